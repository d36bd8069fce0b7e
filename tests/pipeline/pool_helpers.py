"""Tasks for the worker-pool tests, in a module light enough for a fresh worker to import at once."""

from __future__ import annotations

import os
import signal
import time

from cairn.pipeline.executor import Lost

HANG = -1
CRASH = 999


def sleep_or_square(x: int) -> int:
    """x * x; negative items hang (a decoder that never returns), 999 kills its own process (a crash)."""
    if x < 0:
        time.sleep(60)
    if x == CRASH:
        os.kill(os.getpid(), signal.SIGKILL)
    return x * x


def lost_marker(x: int, lost: Lost) -> int:
    return -1000 if lost.reason == "timeout" else -2000
