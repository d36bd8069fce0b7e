"""Per-set PDQ index files: each complete hash set's :class:`~cairn.matching.pdq_index.PdqIndex` is built once
and loaded from disk afterwards, so ``cairn match`` and ``cairn hashset match-file`` do not re-read every PDQ
entry from the database and rebuild the index on every run.

Contract:

* Where: ``CASE_DIR/pdq-index/set-<set id>.pdqidx``, one file per set, for SQLite and PostgreSQL alike. On
  PostgreSQL the sets belong to the database and are shared by every case in it; each case folder keeps its own
  copy of the files it used (built the first time that case matches, or at import by the case importing).
* A file is used only when its recorded identity equals the set's as the database states it now (see
  :func:`set_identity`: set id, name, source SHA-256, import time to the microsecond, record count, and the
  database's identity: its first case's uid and creation time, plus host/port/name for PostgreSQL), its
  entry count is the one recorded, and every array matches the SHA-256 recorded at save
  (:meth:`PdqIndex.load` with ``verify=True``; the arrays are read into process memory in the same pass, where
  huge pages make the random probes faster than a 4 KiB-page memory map). Anything else (missing, stale, foreign,
  truncated, damaged, another format version) is rebuilt from the database, never trusted. Sets are immutable
  once complete (an import is all or nothing; a re-import is a new set row with a new import time), so the
  identity need not read the entries; an edit of ``hash_set_entries`` behind cairn's back is not detected.
* Writing: a rebuilt index is saved atomically (unique temporary file in the same folder, fsync, rename over
  the old one); concurrent builders of the same set each write a complete file and the last rename wins, and
  readers have read the file they opened. A store opened read-only (``cairn hashset match-file``
  and other read commands) never writes: it uses a valid file when there is one, otherwise builds the index in
  memory for that run. A folder that cannot be written (read-only media) is the same: in memory, no error.
* :func:`load_index` returns ``None`` when the sets hold no PDQ entry, one set's ``PdqIndex``, or a
  :class:`~cairn.matching.pdq_index.PdqIndexUnion` over several sets (the same hits as one index over all).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from cairn.matching import match as _match
from cairn.matching.pdq_index import PdqIndex, PdqIndexUnion, read_meta
from cairn.store import matches as _matches
from cairn.store.db import is_sqlite, read_connection
from cairn.store.hash_sets import COMPLETE
from cairn.store.schema import cases, hash_sets

#: The folder of the index files inside a case folder.
CACHE_DIR = "pdq-index"
#: Bumped when what a file records or how it is built changes (older files are then rebuilt).
FORMAT = 1
_SUFFIX = ".pdqidx"


def cache_dir(case_dir: Path) -> Path:
    """The folder holding the case's per-set PDQ index files."""
    return Path(case_dir) / CACHE_DIR


def index_path(case_dir: Path, set_id: int) -> Path:
    """The index file of set ``set_id``."""
    return cache_dir(case_dir) / f"set-{int(set_id)}{_SUFFIX}"


def database_identity(engine: Engine) -> dict[str, Any]:
    """What tells this database from another: its first case's uid and creation time (a replaced or
    recreated database differs even where a set was re-imported from the same file), the backend, and for
    PostgreSQL the server and database name (never the user or password)."""
    with read_connection(engine) as conn:
        first = conn.execute(select(cases.c.uid, cases.c.created_at).order_by(cases.c.id).limit(1)).first()
    ident: dict[str, Any] = {
        "backend": "sqlite" if is_sqlite(engine) else "postgresql",
        "first_case": None if first is None else [first.uid, first.created_at],
    }
    if not is_sqlite(engine):
        url = make_url(engine.url)
        ident["server"] = [url.host, url.port, url.database]
    return ident


def set_identity(set_row: Mapping[str, Any], database: Mapping[str, Any]) -> dict[str, Any]:
    """The identity recorded in (and required of) a set's index file."""
    return {
        "format": FORMAT,
        "set_id": int(set_row["id"]),
        "name": str(set_row["name"]),
        "source_sha256": str(set_row["source_sha256"]),
        "imported_at": str(set_row["imported_at"]),
        "record_count": int(set_row["record_count"]),
        "database": dict(database),
    }


def load_index(engine: Engine, case_dir: Path, sets: Sequence[Mapping[str, Any]], *, write: bool) -> PdqIndex | None:
    """The PDQ index over ``sets`` (complete set rows as :func:`cairn.store.matches.complete_sets` gives
    them): each set's file when valid, else rebuilt from the database (and saved when ``write``)."""
    database = database_identity(engine)
    parts = [set_index(engine, case_dir, s, database, write=write) for s in sets]
    parts = [p for p in parts if len(p)]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else PdqIndexUnion(parts)


def set_index(
    engine: Engine,
    case_dir: Path,
    set_row: Mapping[str, Any],
    database: Mapping[str, Any] | None = None,
    *,
    write: bool,
) -> PdqIndex:
    """Set ``set_row``'s index (possibly empty): from its file when that is valid, else rebuilt."""
    expected = set_identity(set_row, database if database is not None else database_identity(engine))
    path = index_path(case_dir, int(set_row["id"]))
    found = _load_valid(path, expected)
    if found is not None:
        return found
    index = _build(engine, int(set_row["id"]))
    if write:
        _save(index, path, expected)
    return index


def build_after_import(engine: Engine, case_dir: Path, set_id: int) -> bool:
    """Build and save the index file of the just-imported set ``set_id`` (so the first match needs no
    rebuild) and remove the files of sets no longer in the database. True when a file was written; a folder
    that cannot be written, or too little memory, is not an error (the file is then built by the first match)."""
    with read_connection(engine) as conn:
        row = conn.execute(select(hash_sets).where(hash_sets.c.id == set_id)).mappings().first()
        live = set(conn.execute(select(hash_sets.c.id)).scalars())
    _prune(case_dir, live)
    if row is None or row["status"] != COMPLETE:
        return False
    expected = set_identity(dict(row), database_identity(engine))
    path = index_path(case_dir, set_id)
    if _load_valid(path, expected) is not None:
        return True
    try:
        index = _build(engine, set_id)
    except MemoryError:  # the import itself is complete and audited: the first match builds (or fails) instead
        return False
    return _save(index, path, expected)


def _build(engine: Engine, set_id: int) -> PdqIndex:
    index = _match.build_entry_index(_matches.pdq_entries(engine, [set_id]))
    if index is None:
        return PdqIndex.build(np.zeros((0, 32), dtype=np.uint8), np.zeros(0, dtype=np.int64))
    return index


def _load_valid(path: Path, expected: Mapping[str, Any]) -> PdqIndex | None:
    """The index in ``path`` if it is complete, undamaged and records ``expected``; else None."""
    try:
        meta = read_meta(path)
        if meta.get("identity") != expected:
            return None
        index = PdqIndex.load(path, in_memory=True, verify=True)
    except (OSError, ValueError):
        return None
    if len(index) != meta.get("entries") or index.distinct != meta.get("distinct"):
        return None
    return index


def _save(index: PdqIndex, path: Path, identity: Mapping[str, Any]) -> bool:
    meta = {"identity": dict(identity), "entries": len(index), "distinct": index.distinct}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        index.save(path, meta=meta)
    except OSError:
        return False
    return True


def _prune(case_dir: Path, live: set[int]) -> None:
    """Remove index files of sets that are no longer in the database (and temporary files left by a crash)."""
    folder = cache_dir(case_dir)
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        name = entry.name
        stale = False
        if name.startswith("set-") and name.endswith(_SUFFIX):
            number = name[len("set-") : -len(_SUFFIX)]
            stale = not number.isdigit() or int(number) not in live
        elif name.startswith(".set-") and name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                stale = entry.stat().st_mtime < time.time() - 24 * 3600  # an old crash, not a concurrent writer
        if stale:
            with contextlib.suppress(OSError):
                entry.unlink()
