"""Executors run the per-item task somewhere: in this process, in a local process pool, later on Ray.

The contract is one method, ``map_unordered``, that keeps a bounded number of items in flight
(backpressure: the evidence walk never runs ahead of the workers by more than that), so memory stays
bounded whatever the size of the evidence. Results come back in completion order.

Item timeouts: ``map_unordered`` takes an optional ``budget`` (seconds an item may take, or None) and an
``on_lost`` callback that turns an item that produced no result into one. ``LocalPoolExecutor`` runs each
worker as its own process with its own task pipe, so a single worker can be killed: an item past its
budget is reported through ``on_lost`` as ``Lost("timeout", ...)``, its worker is killed and replaced, the
items queued behind it go to other workers, and the others in flight are untouched. A worker that dies
on its own (a crashing decoder, the OOM killer) is handled the same way as ``Lost("crashed", ...)``.
``InlineExecutor`` runs in the calling process and cannot stop an item: it enforces no timeout, which is
why ``make_executor`` gives one worker a pool of one process whenever a timeout is asked for.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import multiprocessing.context
import os
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Items a worker holds at once: the one it runs and the next, so it never waits on a round trip.
PREFETCH = 2
#: The task id of the message a worker sends once it is up.
READY = -1
#: Seconds a worker is given to exit after it is asked to, before it is killed.
EXIT_GRACE = 2.0


@dataclass(frozen=True)
class Lost:
    """Why an item produced no result: ``reason`` is "timeout" (past its budget; its worker was killed) or
    "crashed" (its worker died); ``seconds`` is how long it had run; ``detail`` says more."""

    reason: str
    seconds: float
    detail: str


class WorkerError(RuntimeError):
    """The task raised in a worker (a bug: the per-item task records bad input, it never raises)."""


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

    def map_unordered(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        budget: Callable[[T], float | None] | None = None,
        on_lost: Callable[[T, Lost], R] | None = None,
    ) -> Iterator[R]: ...

    def close(self) -> None: ...


class InlineExecutor:
    """Runs every item in the calling process: one core, no start-up cost, simplest to debug. It cannot
    stop an item, so ``budget`` is ignored (no timeout) and ``on_lost`` is never called."""

    name = "inline"
    workers = 1

    def map_unordered(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        budget: Callable[[T], float | None] | None = None,
        on_lost: Callable[[T, Lost], R] | None = None,
    ) -> Iterator[R]:
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


def _worker_main(conn: multiprocessing.connection.Connection, scanner_pid: int) -> None:
    """A worker: run each ``(task_id, fn, item)`` from the pipe and send back ``(task_id, ok, value)``."""
    _exit_with_scanner(scanner_pid)
    conn.send((READY, True, None))  # an item's clock starts when its worker is up, not when it was sent
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the scanner is gone
        if message is None:
            return
        task_id, fn, item = message
        try:
            reply: tuple[int, bool, Any] = (task_id, True, fn(item))
        except BaseException as exc:  # reported, never lost: the scanner decides
            reply = (task_id, False, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return
        except Exception as exc:  # a result that cannot be pickled
            conn.send((task_id, False, f"the result could not be sent back: {type(exc).__name__}: {exc}"))


@dataclass
class _Worker(Generic[T]):
    """One worker process, its end of the pipe, and the items sent to it (the first is running)."""

    process: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection
    queue: deque[tuple[int, T]] = field(default_factory=deque)
    started: float = 0.0  # when the first queued item started (when the one before it came back)
    ready: bool = False  # the process is up (its first item's clock starts then)


class LocalPoolExecutor:
    """A local pool of worker processes, each with its own task pipe, so one can be killed and replaced.

    Keeps the executor contract: at most ``workers * in_flight_per_worker`` items pulled and not yet
    returned; workers ignore Ctrl-C and exit when the scanning process dies; results unordered.
    """

    name = "local-processes"

    def __init__(self, workers: int, in_flight_per_worker: int = 4) -> None:
        self.workers = workers
        self._max_in_flight = workers * max(1, in_flight_per_worker)
        self._prefetch = max(1, min(PREFETCH, in_flight_per_worker))
        self._ctx = _pool_context()
        self._pool: list[_Worker[Any]] = [self._start() for _ in range(workers)]
        self.replaced = 0  # workers killed or lost and started again

    def _start(self) -> _Worker[Any]:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(  # type: ignore[attr-defined]
            target=_worker_main, args=(child, os.getpid()), name="cairn-worker", daemon=True
        )
        process.start()
        child.close()
        return _Worker(process, parent)

    def _replace(self, worker: _Worker[Any]) -> None:
        """Kill ``worker`` (if it still runs) and put a fresh one in its place."""
        _kill(worker)
        self._pool[self._pool.index(worker)] = self._start()
        self.replaced += 1

    def map_unordered(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        budget: Callable[[T], float | None] | None = None,
        on_lost: Callable[[T, Lost], R] | None = None,
    ) -> Iterator[R]:
        source = iter(items)
        backlog: deque[tuple[int, T]] = deque()  # pulled, not yet sent (or sent back after a worker died)
        outstanding = 0  # pulled and not yet returned
        next_id = 0
        exhausted = False
        while True:
            while not exhausted and outstanding < self._max_in_flight:
                try:
                    item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                backlog.append((next_id, item))
                next_id += 1
                outstanding += 1
            if outstanding == 0:
                return
            self._dispatch(fn, backlog)
            for result in self._collect(budget, on_lost, backlog):
                outstanding -= 1
                yield result

    def _dispatch(self, fn: Callable[[T], R], backlog: deque[tuple[int, T]]) -> None:
        """Send backlog items to the workers with room, the least loaded first."""
        while backlog:
            worker = min(self._pool, key=lambda w: len(w.queue))
            if len(worker.queue) >= self._prefetch:
                return
            task_id, item = backlog.popleft()
            try:
                worker.conn.send((task_id, fn, item))
            except (BrokenPipeError, OSError):
                backlog.appendleft((task_id, item))
                self._lose_worker(worker, backlog)  # its items go back to the backlog; nothing is lost
                continue
            if not worker.queue:
                worker.started = time.monotonic()
            worker.queue.append((task_id, item))

    def _lose_worker(self, worker: _Worker[Any], backlog: deque[tuple[int, Any]]) -> None:
        backlog.extendleft(reversed(worker.queue))
        worker.queue.clear()
        self._replace(worker)

    def _deadline(self, worker: _Worker[Any], budget: Callable[[Any], float | None] | None) -> float | None:
        if budget is None or not worker.queue or not worker.ready:
            return None
        seconds = budget(worker.queue[0][1])
        return None if seconds is None or seconds <= 0 else worker.started + seconds

    def _collect(
        self,
        budget: Callable[[T], float | None] | None,
        on_lost: Callable[[T, Lost], R] | None,
        backlog: deque[tuple[int, T]],
    ) -> list[R]:
        """Wait until a result comes back, a worker dies or an item's budget runs out; return the results."""
        busy = [w for w in self._pool if w.queue or not w.ready]
        deadlines = [d for d in (self._deadline(w, budget) for w in busy) if d is not None]
        timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        waitables: list[Any] = [w.conn for w in busy] + [w.process.sentinel for w in busy]
        multiprocessing.connection.wait(waitables, timeout)
        results: list[R] = []
        for worker in busy:
            dead = False
            while (worker.queue or not worker.ready) and worker.conn.poll():
                try:
                    task_id, ok, value = worker.conn.recv()
                except (EOFError, OSError):
                    dead = True  # every result it sent has been read: handled below
                    break
                if task_id == READY:
                    worker.ready, worker.started = True, time.monotonic()
                    continue
                head_id, _item = worker.queue.popleft()
                if head_id != task_id:  # pragma: no cover - a worker answers in order
                    raise RuntimeError(f"worker answered item {task_id}, expected {head_id}")
                worker.started = time.monotonic()
                if not ok:
                    raise WorkerError(f"the per-item task raised in a worker: {value}")
                results.append(value)
            if dead and worker.queue:
                results.append(self._lost(worker, "crashed", on_lost, backlog))
            elif dead:
                self._replace(worker)
        now = time.monotonic()
        for worker in busy:
            deadline = self._deadline(worker, budget)
            if deadline is not None and now >= deadline and worker in self._pool:
                results.append(self._lost(worker, "timeout", on_lost, backlog))
        return results

    def _lost(
        self, worker: _Worker[Any], reason: str, on_lost: Callable[[T, Lost], R] | None, backlog: deque[tuple[int, T]]
    ) -> R:
        """The running item of ``worker`` produced no result: report it, requeue the rest, replace the worker."""
        _task_id, item = worker.queue.popleft()
        seconds = time.monotonic() - worker.started
        _kill(worker)
        code = worker.process.exitcode
        detail = (
            f"ran {seconds:.1f} s, past its budget; its worker process was killed and replaced"
            if reason == "timeout"
            else f"its worker process died (exit code {code}) after {seconds:.1f} s and was replaced"
        )
        self._lose_worker(worker, backlog)
        lost = Lost(reason, seconds, detail)
        if on_lost is None:
            raise WorkerError(f"an item was lost: {detail}")
        return on_lost(item, lost)

    def close(self) -> None:
        """Stop every worker: idle ones are asked to exit, busy ones are killed (their items are not stored)."""
        for worker in self._pool:
            if worker.queue:
                _kill(worker)
                continue
            with contextlib.suppress(BrokenPipeError, OSError):
                worker.conn.send(None)
        deadline = time.monotonic() + EXIT_GRACE
        for worker in self._pool:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            _kill(worker)
            worker.conn.close()
        self._pool = []


def _kill(worker: _Worker[Any]) -> None:
    if worker.process.is_alive():
        with contextlib.suppress(OSError, AttributeError):
            worker.process.kill()
    worker.process.join(EXIT_GRACE)


def make_executor(workers: int, isolate: bool = False) -> Executor:
    """``workers`` <= 0 means one per usable core. One worker runs inline (no pool to start) unless
    ``isolate``: an item timeout needs a separate process, so then one worker is a pool of one process."""
    count = workers if workers > 0 else usable_cores()
    if count == 1 and not isolate:
        return InlineExecutor()
    return LocalPoolExecutor(count)
