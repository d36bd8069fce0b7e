"""One scan at a time per evidence and case: the scan lock.

Two scans of the same evidence into the same case would each mark the other's run interrupted and write the
same paths, so the second is refused while the first runs (:class:`ScanInProgress`, naming the holder).

- SQLite (the case folder's own ``case.db``): an exclusive ``fcntl.flock`` on
  ``CASE_DIR/.scan-<key>.lock``, where ``key`` is the start of the SHA-256 of the evidence root. The holder
  writes its pid, host, user and start time into the file; the lock itself dies with the process (even
  ``kill -9``), the file stays and is reused.
- PostgreSQL (a database shared by several machines): a session advisory lock ``pg_try_advisory_lock`` keyed
  on (case id, evidence root), held on a connection of its own for the whole scan; the server drops it when
  that connection ends. The holder is named from the running run of that evidence (host, user, start).

Scans of other evidence into the same case, and scans into other cases, are never blocked.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select, text

from cairn.store.schema import evidence, scan_runs


class ScanInProgress(RuntimeError):
    """Another scan of the same evidence into the same case is running; the message names it."""


def _key(root: str) -> str:
    return hashlib.sha256(root.encode("utf-8", "surrogatepass")).hexdigest()


def lock_file(case_dir: Path, root: str) -> Path:
    """The lock file of evidence ``root`` in ``case_dir``."""
    return case_dir / f".scan-{_key(root)[:16]}.lock"


def _refusal(root: str, holder: str) -> ScanInProgress:
    return ScanInProgress(
        f"another cairn scan of {root} into this case is running ({holder}). Wait for it to finish, or stop it "
        "(Ctrl-C), then run this scan again: it resumes where that one stopped"
    )


@contextmanager
def file_lock(case_dir: Path, root: str) -> Iterator[None]:
    """Hold the flock of evidence ``root`` in ``case_dir``, or raise :class:`ScanInProgress`."""
    path = lock_file(case_dir, root)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _refusal(root, _describe_file_holder(fd)) from None
        from cairn.store.case_store import default_actor  # case_store imports this module

        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "user": default_actor(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode("utf-8"), 0)
        yield
    finally:
        os.close(fd)  # releases the flock


@contextmanager
def advisory_lock(engine: Engine, case_id: int, root: str) -> Iterator[None]:
    """Hold PostgreSQL's advisory lock of (case, evidence ``root``), or raise :class:`ScanInProgress`."""
    key = int.from_bytes(bytes.fromhex(_key(f"{case_id}\n{root}"))[:8], "big", signed=True)
    conn = engine.connect()
    try:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
        conn.commit()
        if not got:
            holder = _describe_run_holder(engine, case_id, root)
            raise _refusal(root, holder)
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            conn.commit()
    finally:
        conn.close()


def _describe_file_holder(fd: int) -> str:
    try:
        raw = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        return f"pid {raw['pid']} on {raw['host']}, user {raw['user']}, since {raw['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not said who it is yet"


def _describe_run_holder(engine: Engine, case_id: int, root: str) -> str:
    stmt = (
        select(scan_runs.c.id, scan_runs.c.host, scan_runs.c.os_user, scan_runs.c.started_at)
        .join(evidence, evidence.c.id == scan_runs.c.evidence_id)
        .where(evidence.c.case_id == case_id, evidence.c.root == root, scan_runs.c.status == "running")
        .order_by(scan_runs.c.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        run = conn.execute(stmt).first()
    if run is None:
        return "a scan that is just starting"
    return f"run #{run.id} on {run.host}, user {run.os_user}, since {run.started_at}"
