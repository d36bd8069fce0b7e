"""Executors run the per-item task somewhere: in this process, in a local process pool, later on Ray.

The contract is one method, ``map_unordered``, that keeps a bounded number of items in flight
(backpressure: the evidence walk never runs ahead of the workers by more than that), so memory stays
bounded whatever the size of the evidence.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def usable_cores() -> int:
    """Cores this process may run on (respects taskset/cgroup affinity, unlike os.cpu_count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class Executor(Protocol):
    """Runs ``fn`` over items; yields results as they complete, at most ``max_in_flight`` pending."""

    name: str
    workers: int

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]: ...

    def close(self) -> None: ...


class InlineExecutor:
    """Runs every item in the calling process: one core, no start-up cost, simplest to debug."""

    name = "inline"
    workers = 1

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        for item in items:
            yield fn(item)

    def close(self) -> None:
        return None


def _pool_context() -> multiprocessing.context.BaseContext:
    """Workers start from a clean fork server where there is one (never a fork of the scanning process,
    which holds open database connections), else by spawning."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["cairn.pipeline.task"])
        return ctx
    return multiprocessing.get_context("spawn")


def _exit_with_scanner(scanner_pid: int, every: float = 1.0) -> None:
    """Worker initializer: end this worker once the scanning process is gone (e.g. after ``kill -9``).

    Pool workers otherwise wait forever on their task queue when the process that owns it dies. Workers
    also ignore Ctrl-C: the scanning process decides when to stop, and stops them itself.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while True:
            time.sleep(every)
            try:
                os.kill(scanner_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass  # exists, owned by another user (cannot happen for our parent, but never exit wrongly)

    threading.Thread(target=watch, name="cairn-exit-with-scanner", daemon=True).start()


class LocalPoolExecutor:
    """A local process pool with a bounded queue of submitted items."""

    name = "local-processes"

    def __init__(self, workers: int, in_flight_per_worker: int = 4) -> None:
        self.workers = workers
        self._max_in_flight = workers * in_flight_per_worker
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=_pool_context(),
            initializer=_exit_with_scanner,
            initargs=(os.getpid(),),
        )

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        pending: set[Future[R]] = set()
        for item in items:
            pending.add(self._pool.submit(fn, item))
            if len(pending) >= self._max_in_flight:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield fut.result()
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield fut.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def make_executor(workers: int) -> Executor:
    """``workers`` <= 0 means one per usable core; one worker runs inline (no pool to start)."""
    count = workers if workers > 0 else usable_cores()
    if count == 1:
        return InlineExecutor()
    return LocalPoolExecutor(count)
