"""The scan loop: walk the evidence, skip what is stored, run the task on an executor, write in batches.

Resumable: results are committed in small batches, and a later scan of the same evidence into the same
case skips every path already stored, so an interrupted scan (even ``kill -9``) finishes with every file
stored exactly once. Only this loop writes the case database.
"""

from __future__ import annotations

import functools
import getpass
import os
import platform
import shutil
import signal
import socket
import stat
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import PIL
from rich.console import Console

from cairn import __version__
from cairn.errors import PATH_COLLISION, is_note
from cairn.model import FileResult
from cairn.pipeline.executor import make_executor
from cairn.pipeline.progress import ScanProgress
from cairn.pipeline.task import item_budget, lost_result, process_item
from cairn.settings import ScanSettings
from cairn.signals.image_pdq import PDQ_KINDS
from cairn.signals.pdq import PDQ_IMPLEMENTATION
from cairn.signals.registry import signals
from cairn.sources.deep_path import lstat_path
from cairn.sources.folder import FolderSource
from cairn.sources.open import open_source
from cairn.store.case_store import CaseStore, WriteOutcome
from cairn.store.rows import storable_text

BATCH_ITEMS = 256
BATCH_SECONDS = 1.0

#: Settings that change what is stored. A scan that resumes stored work must use the same ones (and the
#: same cairn version), or one evidence's rows would mix results made in different ways. ``pdq_kinds`` (the
#: hash kinds the PDQ signal stores) is absent from runs of a cairn that stored no dihedral variants; so is
#: ``watermarks`` (which pictures the invisible-watermark check reads) from runs of a cairn without it.
#: ``detector_identity`` (the AI-image detector's name, version and the SHA-256 of its config and model; None
#: when off) is compared, not the config's path: a moved config is the same detector, a changed model is not.
RESULT_SETTINGS = ("limits", "fast_pdq", "thumbnail_size", "pdq_kinds", "watermarks", "detector_identity")


class ResumeMismatch(ValueError):
    """An earlier run of this evidence stored results with other settings or another cairn version."""


def _check_resume(store: CaseStore, evidence_id: int, record: dict[str, Any], has_stored: bool) -> None:
    if not has_stored:
        return
    wanted = {key: record.get(key) for key in RESULT_SETTINGS}
    for run in store.runs():
        if run["evidence_id"] != evidence_id:
            continue
        settings = run["settings"] or {}
        earlier = {key: settings.get(key) for key in RESULT_SETTINGS}
        if earlier != wanted or run["tool_version"] != __version__:
            changed = sorted(k for k in RESULT_SETTINGS if earlier[k] != wanted[k])
            if run["tool_version"] != __version__:
                changed.append(f"cairn {run['tool_version']} -> {__version__}")
            raise ResumeMismatch(
                f"run #{run['id']} of this evidence stored results with other settings ({', '.join(changed)}); "
                "resume with the same settings, or scan into a new --case folder"
            )


def _recorded_decode_budget(store: CaseStore, evidence_id: int) -> int | None:
    """The decode memory budget the latest earlier run of this evidence recorded (a resume keeps it)."""
    budget = None
    for run in store.runs():
        limits = (run["settings"] or {}).get("limits") or {}
        if run["evidence_id"] == evidence_id and isinstance(limits.get("decode_memory_budget"), int):
            budget = limits["decode_memory_budget"]
    return budget


@dataclass
class ScanSummary:
    """What one scan run did (this run only) and where its results are."""

    run_id: int
    evidence_id: int
    status: str
    files: int = 0
    bytes: int = 0
    errors: int = 0
    images: int = 0
    containers: int = 0
    skipped_already_done: int = 0
    path_collisions: int = 0  # items stored under a renamed path with a path_collision error: must stay 0
    seconds: float = 0.0
    evidence_digest: str | None = None
    error_codes: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "bytes": self.bytes,
            "errors": self.errors,
            "images": self.images,
            "containers": self.containers,
            "skipped_already_done": self.skipped_already_done,
            "path_collisions": self.path_collisions,
            "error_codes": dict(sorted(self.error_codes.items())),
        }


class _StopRequest:
    """Turns the first Ctrl-C into a request the scan loop honours between items, never inside a database
    write; a second Ctrl-C interrupts at once. Outside the main thread it does nothing."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt


SPOOL_PREFIX = "cairn-spool-"


def _spool_dir(temp_dir: str | None) -> Path:
    """A spool folder for this scan's large archive members; folders of scans that died are swept.

    Each scan spools under ``<temp>/cairn-spool-<pid>``, so a folder whose process is gone (a ``kill -9``
    mid-member) can be removed without touching a scan still running beside this one.
    """
    base = Path(temp_dir or tempfile.gettempdir())
    for stale in base.glob(f"{SPOOL_PREFIX}*"):
        pid = stale.name[len(SPOOL_PREFIX) :]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(stale, ignore_errors=True)
        except PermissionError:
            pass  # alive, someone else's
    own = base / f"{SPOOL_PREFIX}{os.getpid()}"
    own.mkdir(mode=0o700, parents=True, exist_ok=True)
    return own


def _top_level_bytes(root: Path) -> int:
    """Total size of the regular files under ``root`` (the progress bar's total), listed without atime."""
    if not root.is_dir():
        return root.lstat().st_size
    total = 0
    pending = [str(root)]
    while pending:
        folder = pending.pop()
        try:
            entries = FolderSource.listing(folder)
        except OSError:
            continue  # the walk itself records it
        for entry in entries:
            path = os.path.join(folder, entry.name)
            try:
                st = lstat_path(path)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                pending.append(path)
            elif stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total


def run_record(settings: ScanSettings, executor_name: str, workers: int) -> dict[str, Any]:
    """Everything that could change a result, stored with the run for reproducibility.

    With a detector, its config is read and its model hashed here (``DetectorConfigError`` when that fails).
    """
    return {
        **settings.as_record(),
        "detector_identity": _detector_identity(settings.detector),
        "executor": executor_name,
        "workers": workers,
        "signals": signals().names,
        "pdq_implementation": PDQ_IMPLEMENTATION,
        "pdq_kinds": list(PDQ_KINDS),
        "python": platform.python_version(),
        "pillow": PIL.__version__,
        "platform": platform.platform(),
    }


def _detector_identity(path: str | None) -> dict[str, Any] | None:
    """The detector's name, version, config and model SHA-256 and the onnxruntime version; None when off."""
    if not path:
        return None
    from cairn.signals.detector.config import load_config
    from cairn.signals.detector.run import runtime_version

    return {**load_config(path).identity(), "runtime": runtime_version()}


def evidence_digest(store: CaseStore, evidence_id: int) -> str:
    """SHA-256 over the sorted ``path<TAB>sha256`` lines of every stored item (``CaseStore.evidence_digest``,
    the one ``audit verify`` recomputes)."""
    return store.evidence_digest(evidence_id)


def scan(
    evidence: Path,
    store: CaseStore,
    settings: ScanSettings,
    actor: str | None = None,
    show_progress: bool = True,
    console: Console | None = None,
    batch_items: int = BATCH_ITEMS,
) -> ScanSummary:
    """Scan ``evidence`` into ``store``; resumes any earlier, unfinished scan of the same evidence.

    Raises ``cairn.store.locks.ScanInProgress`` (and touches nothing) while another scan of the same
    evidence into the same case runs.
    """
    with store.scan_lock(evidence_label(evidence.resolve())):
        return _scan_locked(evidence, store, settings, actor, show_progress, console, batch_items)


def evidence_label(root: Path) -> str:
    """The evidence root as the case records it: its absolute path, with a byte that is not valid UTF-8 (or
    a NUL) shown as ``%XX`` so any folder name a seized drive holds can be registered and locked."""
    return storable_text(str(root))


def _scan_locked(
    evidence: Path,
    store: CaseStore,
    settings: ScanSettings,
    actor: str | None,
    show_progress: bool,
    console: Console | None,
    batch_items: int,
) -> ScanSummary:
    actor = actor or getpass.getuser()
    root = evidence.resolve()
    spool = _spool_dir(settings.temp_dir)
    source = open_source(root, temp_dir=str(spool))
    total = _top_level_bytes(root)
    evidence_id = store.register_evidence(
        evidence_label(root), source.kind, actor, {"host": socket.gethostname(), "size_bytes": total}
    )
    done = store.done_paths(evidence_id)
    executor = make_executor(settings.workers, isolate=settings.limits.item_timeout > 0)
    settings = settings.resolved(executor.workers, _recorded_decode_budget(store, evidence_id) if done else None)
    try:
        record = run_record(settings, executor.name, executor.workers)
        _check_resume(store, evidence_id, record, bool(done))
    except BaseException:  # a resume refused, a detector config that cannot be read: no worker left behind
        executor.close()
        shutil.rmtree(spool, ignore_errors=True)
        raise
    run_id = store.start_run(evidence_id, __version__, record, actor)
    summary = ScanSummary(run_id=run_id, evidence_id=evidence_id, status="running")
    skipped_paths: set[str] = set()

    def skip(path: str) -> bool:
        if path in done:
            skipped_paths.add(path)
            return True
        return False

    task = functools.partial(process_item, settings=settings)
    buffer: list[FileResult] = []
    last_flush = time.monotonic()
    started = time.monotonic()

    def flush() -> None:
        nonlocal last_flush
        if buffer:
            _record_outcome(summary, store.store_results(run_id, evidence_id, buffer), skipped_paths)
            buffer.clear()
        last_flush = time.monotonic()

    stop = _StopRequest()
    try:
        with stop, ScanProgress(show_progress, total if show_progress else None, console) as progress:
            budget = functools.partial(item_budget, limits=settings.limits)
            items = source.items(settings.limits, skip)
            for result in executor.map_unordered(task, items, budget=budget, on_lost=lost_result):
                stop.check()
                buffer.append(result)
                _count(summary, result)
                progress.advance(result.bytes_read, source.position(), bool(result.errors))
                if len(buffer) >= batch_items or time.monotonic() - last_flush >= BATCH_SECONDS:
                    flush()
                stop.check()
            flush()
    except BaseException:
        # Keep what was computed, mark the run, and always stop the workers; the original error wins.
        summary.status = "interrupted"
        summary.skipped_already_done = len(skipped_paths)
        summary.seconds = time.monotonic() - started
        try:
            flush()
            store.finish_run(run_id, "interrupted", summary.counts(), actor)
        except Exception:
            pass  # the database itself may be what failed; a later scan marks this run interrupted
        finally:
            executor.close()
            shutil.rmtree(spool, ignore_errors=True)
        raise
    executor.close()
    shutil.rmtree(spool, ignore_errors=True)
    summary.skipped_already_done = len(skipped_paths)
    summary.seconds = time.monotonic() - started
    summary.evidence_digest = evidence_digest(store, evidence_id)
    summary.status = "completed"
    store.finish_run(
        run_id,
        "completed",
        summary.counts(),
        actor,
        {
            "evidence_digest": summary.evidence_digest,
            "rows_digest": store.rows_digest(evidence_id),
            "seconds": round(summary.seconds, 3),
        },
    )
    return summary


def _record_outcome(summary: ScanSummary, outcome: WriteOutcome, skipped_paths: set[str]) -> None:
    """Count what the store itself did: errors it put on items (collisions, refusals) and resumed repeats."""
    skipped_paths.update(outcome.skipped_paths)
    for _path, err, had_error in outcome.recorded:
        summary.error_codes[err.code] = summary.error_codes.get(err.code, 0) + 1
        if err.code == PATH_COLLISION:
            summary.path_collisions += 1
        if not had_error:
            summary.errors += 1


def _count(summary: ScanSummary, result: FileResult) -> None:
    summary.files += 1
    summary.bytes += result.bytes_read
    if any(not is_note(e.code) for e in result.errors):
        summary.errors += 1
    for err in result.errors:
        summary.error_codes[err.code] = summary.error_codes.get(err.code, 0) + 1
    if result.image is not None:
        summary.images += 1
    if result.is_container:
        summary.containers += 1
