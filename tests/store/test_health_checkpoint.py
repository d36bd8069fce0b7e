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
