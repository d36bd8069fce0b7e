"""A damaged case database is named as such, with what to do, before anything reads or writes it.

:func:`check_case_database` looks at the case folder's own SQLite file (``CASE_DIR/case.db``) without opening
it with SQLite: the 16-byte magic, the page size, and the page count its header declares against the file's
size. Random bytes, a file cut short (a copy that did not finish, a failing disk) and an emptied file beside
an audit anchor each raise :class:`CaseDatabaseCorrupt`. A file short of its header's pages whose write-ahead log
holds every missing page in committed frames is a checkpoint a killed process left part-way, which SQLite
completes: that is not damage. A shared PostgreSQL database is the server's to keep whole and is not checked
here.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from cairn.store.audit import ANCHOR_FILE
from cairn.store.db import resolve_url, sqlite_file

SQLITE_MAGIC = b"SQLite format 3\x00"


class CaseDatabaseCorrupt(RuntimeError):
    """The case database file is damaged: the message says what is wrong and what to do."""


def _corrupt(path: Path, what: str) -> CaseDatabaseCorrupt:
    return CaseDatabaseCorrupt(
        f"the case database {path} is damaged: {what}. cairn will not read or write it. Restore case.db from "
        "the exhibit copy or backup of this case folder (then check it with `cairn audit verify`), or scan "
        "the evidence into a new --case folder; keep the damaged file for examination"
    )


def check_case_database(case_dir: Path, db_url: str | None) -> None:
    """Raise :class:`CaseDatabaseCorrupt` when the case's SQLite file exists and is visibly damaged."""
    path = sqlite_file(resolve_url(case_dir, db_url))
    if path is not None:
        check_sqlite_file(path, (case_dir / ANCHOR_FILE).exists())


#: A size that disagrees with the header is measured again this many times, this far apart, before the file is
#: called damaged: another process (``cairn serve`` beside a CLI command) may be checkpointing its write-ahead
#: log into the file, writing the header's new page count a moment before the pages that extend the file.
SIZE_RECHECKS = 10
RECHECK_SECONDS = 0.1


def check_sqlite_file(path: Path, anchored: bool) -> None:
    """Raise :class:`CaseDatabaseCorrupt` when the SQLite file ``path`` exists and is visibly damaged.

    ``anchored``: the case folder holds an audit anchor, so an empty file cannot be a case being created. A file
    whose size disagrees with its header is measured again for about a second before it is called cut short
    (see :data:`SIZE_RECHECKS`): a truncated copy stays short, a checkpoint in flight does not.
    """
    for attempt in range(SIZE_RECHECKS + 1):
        try:
            with path.open("rb") as fh:
                header = fh.read(100)
                size = os.fstat(fh.fileno()).st_size
        except FileNotFoundError:
            return
        except OSError as exc:
            raise _corrupt(path, f"it cannot be read ({exc.strerror or exc})") from exc
        if attempt == SIZE_RECHECKS or not _size_disagrees(header, size):
            break
        time.sleep(RECHECK_SECONDS)
    _check_header(path, header, size, anchored)


def _size_disagrees(header: bytes, size: int) -> bool:
    """Whether the size is not whole pages, or short of the page count a valid header declares."""
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        return False
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return False
    pages = int.from_bytes(header[28:32], "big")
    return bool(size % page_size) or (header[24:28] == header[92:96] and pages > 0 and size < pages * page_size)


def _check_header(path: Path, header: bytes, size: int, anchored: bool) -> None:
    """Raise :class:`CaseDatabaseCorrupt` for what ``header`` and ``size`` (measured together) show."""
    if size == 0:
        if anchored:
            raise _corrupt(path, "the file is empty, yet the case folder's audit anchor says the case has entries")
        return
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise _corrupt(path, "it is not an SQLite database (its first bytes are not the SQLite header)")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise _corrupt(path, f"its header declares an impossible page size ({page_size})")
    if size % page_size:
        raise _corrupt(path, f"its size ({size:,} bytes) is not a whole number of {page_size}-byte pages: cut short")
    pages = int.from_bytes(header[28:32], "big")
    header_valid = header[24:28] == header[92:96]
    if header_valid and pages and size < pages * page_size:
        if _wal_holds(path, page_size, range(size // page_size + 1, pages + 1)):
            return  # a checkpoint stopped part-way (a process killed in it): SQLite's recovery completes it
        raise _corrupt(
            path, f"it is cut short: its header declares {pages * page_size:,} bytes, the file holds {size:,}"
        )


WAL_MAGICS = (0x377F0682, 0x377F0683)
#: Frames whose headers :func:`_wal_holds` reads at most (a write-ahead log of about 4 GiB at 4 KiB pages).
MAX_WAL_FRAMES = 1_000_000


def _wal_holds(path: Path, page_size: int, missing: range) -> bool:
    """Whether the write-ahead log beside ``path`` holds every page of ``missing`` (in frames of its current
    salts, up to its last commit frame, which declares a database at least that long): then a short file is a
    checkpoint a killed process left part-way, which SQLite completes from the log, not a file cut short."""
    wal = path.with_name(path.name + "-wal")
    try:
        with wal.open("rb") as fh:
            head = fh.read(32)
            if len(head) < 32 or int.from_bytes(head[0:4], "big") not in WAL_MAGICS:
                return False
            if int.from_bytes(head[8:12], "big") != page_size:
                return False
            salts = head[16:24]
            frame_size = 24 + page_size
            frames = min(MAX_WAL_FRAMES, (os.fstat(fh.fileno()).st_size - 32) // frame_size)
            pending: set[int] = set()  # pages of frames since the last commit frame
            committed: set[int] = set()
            longest = 0
            for n in range(frames):
                fh.seek(32 + n * frame_size)
                frame = fh.read(24)
                if len(frame) < 24 or frame[8:16] != salts:
                    break  # frames of an earlier log generation, or a torn write: SQLite stops here too
                pending.add(int.from_bytes(frame[0:4], "big"))
                after_commit = int.from_bytes(frame[4:8], "big")
                if after_commit:  # a commit frame: what came before it is part of the database
                    committed |= pending
                    pending.clear()
                    longest = max(longest, after_commit)
    except OSError:
        return False
    return longest >= missing.stop - 1 and all(page in committed for page in missing)
