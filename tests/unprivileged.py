"""Run a test body as an unprivileged user, so "unreadable" means unreadable even when tests run as root.

Root reads any file whatever its mode, so a permission test run as root could not fail. As root, the body
runs in a forked child that has dropped to ``nobody`` (uid/gid 65534); cairn is already imported, so the
child needs no access to the virtual environment. Its return value comes back pickled through a pipe.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
NOBODY = 65534


def world_traversable_dir() -> Path:
    """A fresh folder under the system temp dir that an unprivileged user can enter."""
    path = Path(tempfile.mkdtemp(prefix="cairn-unpriv-"))
    path.chmod(0o755)
    return path


def run_unprivileged(fn: Callable[[], T]) -> T:
    """``fn()`` run without root's powers; exceptions in the child come back as AssertionError."""
    if os.geteuid() != 0:
        return fn()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            payload = pickle.dumps(("ok", fn()))
        except BaseException as exc:  # report everything to the parent
            payload = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"))
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as inp:
        data = inp.read()
    os.waitpid(pid, 0)
    status, value = pickle.loads(data)
    if status != "ok":
        raise AssertionError(f"unprivileged child failed: {value}")
    return value  # type: ignore[no-any-return]
