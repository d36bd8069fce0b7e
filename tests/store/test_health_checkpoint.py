"""A case.db measured while another process checkpoints into it is not called damaged; one cut short still is."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from cairn.store.health import CaseDatabaseCorrupt, check_sqlite_file


def grown_header_first(path: Path) -> bytes:
    """A real SQLite file, whose last page is removed: its header declares one page more than the file holds
    (what a reader sees between a checkpoint's header write and its extending write)."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x BLOB)")
    con.executemany("INSERT INTO t VALUES (?)", [(b"\0" * 3000,) for _ in range(20)])
    con.commit()
    con.close()
    data = path.read_bytes()
    page = int.from_bytes(data[16:18], "big")
    path.write_bytes(data[:-page])
    return data[-page:]


def test_a_checkpoint_in_flight_is_not_damage(tmp_path: Path) -> None:
    path = tmp_path / "case.db"
    last_page = grown_header_first(path)

    def finish_the_checkpoint() -> None:
        time.sleep(0.3)
        with path.open("ab") as fh:
            fh.write(last_page)

    writer = threading.Thread(target=finish_the_checkpoint)
    writer.start()
    check_sqlite_file(path, anchored=True)  # measured again until the file holds what its header says
    writer.join()


def test_a_file_that_stays_short_is_damaged(tmp_path: Path) -> None:
    path = tmp_path / "case.db"
    grown_header_first(path)
    with pytest.raises(CaseDatabaseCorrupt, match="cut short"):
        check_sqlite_file(path, anchored=True)


def wal_case(path: Path) -> sqlite3.Connection:
    """A WAL-mode database whose latest pages are still only in its write-ahead log (automatic checkpoints off),
    the connection left open so the log stays."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t (n INTEGER, x BLOB)")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("BEGIN")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(n, bytes([n % 251]) * 3000) for n in range(40)])
    con.execute("COMMIT")
    return con


def checkpoint_stopped_after_page_one(path: Path) -> None:
    """What a process killed in a checkpoint leaves: page 1 (the header, with the new page count) copied from
    the log into the file, the pages that extend the file not yet written."""
    wal = path.with_name(path.name + "-wal").read_bytes()
    page_size = int.from_bytes(wal[8:12], "big")
    frame_size = 24 + page_size
    page_one = None
    for at in range(32, len(wal) - frame_size + 1, frame_size):
        if int.from_bytes(wal[at:at + 4], "big") == 1:
            page_one = wal[at + 24:at + frame_size]
    assert page_one is not None
    with path.open("r+b") as fh:
        fh.write(page_one)


def test_a_checkpoint_a_killed_process_left_part_way_is_not_damage(tmp_path: Path) -> None:
    path = tmp_path / "case.db"
    con = wal_case(path)
    copy = tmp_path / "copy"
    copy.mkdir()
    for suffix in ("", "-wal"):  # the files as a process killed at this moment leaves them
        (copy / f"case.db{suffix}").write_bytes(path.with_name(f"case.db{suffix}").read_bytes())
    con.close()
    left = copy / "case.db"
    checkpoint_stopped_after_page_one(left)
    header = left.read_bytes()[:100]
    declared = int.from_bytes(header[28:32], "big") * int.from_bytes(header[16:18], "big")
    assert left.stat().st_size < declared  # short of its header, as the killed checkpoint left it
    check_sqlite_file(left, anchored=True)  # the log holds the rest: not damage
    with sqlite3.connect(left) as reopened:  # and SQLite completes it from the log
        assert reopened.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert reopened.execute("SELECT count(*), sum(n) FROM t").fetchone() == (40, sum(range(40)))
    (copy / "case.db-wal").unlink()
    with pytest.raises(CaseDatabaseCorrupt, match="cut short"):  # without the log it is a file cut short
        check_sqlite_file(left, anchored=True)


def test_a_log_without_the_missing_pages_does_not_excuse_a_short_file(tmp_path: Path) -> None:
    path = tmp_path / "case.db"
    con = wal_case(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the file; the log empty
    con.execute("INSERT INTO t VALUES (99, x'00')")  # a log that holds only the pages this changes
    copy = tmp_path / "copy.db"
    data = path.read_bytes()
    page_size = int.from_bytes(data[16:18], "big")
    copy.write_bytes(data[:-2 * page_size])  # a copy cut short
    copy.with_name("copy.db-wal").write_bytes(path.with_name("case.db-wal").read_bytes())
    con.close()
    with pytest.raises(CaseDatabaseCorrupt, match="cut short"):
        check_sqlite_file(copy, anchored=True)
