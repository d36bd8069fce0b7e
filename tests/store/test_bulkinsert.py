"""The C bulk loader of hash-set entry rows (``cairn.store._bulkinsert``), on a real case database.

It must use the very SQLite library of Python's ``sqlite3`` module, store exactly the rows
:func:`cairn.store.hash_sets.entry_rows` makes, report SQLite's own errors (constraints, a set that is not
there) where the caller can act on them, skip what was queued after a failure, and leave nothing behind after
``discard`` and ROLLBACK. An import whose file goes bad part-way stores no rows whichever path it takes.
"""

from __future__ import annotations

import _sqlite3
import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cairn.matching.formats.base import HashRecord
from cairn.store import CaseStore
from cairn.store import hash_sets as hs
from cairn.store.schema import hash_set_entries

bulk = pytest.importorskip(
    "cairn.store._bulkinsert", reason="the C extension is not built: reinstall cairn where a C compiler is present"
)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[CaseStore]:
    with CaseStore.open(tmp_path / "case", None) as store:
        yield store


def start(store: CaseStore, name: str) -> int:
    source = hs.SetSource(name, hashlib.sha256(name.encode()).hexdigest(), name, "csv", "vic-us", False, "examiner")
    return hs.begin_import(store._engine, source, "2026-01-01T00:00:00.000000+00:00")


def loader(store: CaseStore) -> Any:
    made = hs._bulk_loader(store._engine)
    if made is None:
        try:
            bulk.Loader(_sqlite3.__file__, ":memory:", "SELECT 1", ()).close()
        except ImportError as exc:  # a Python whose sqlite3 module keeps its SQLite to itself: the fallback runs
            pytest.skip(f"this Python's sqlite3 module does not share its SQLite library: {exc}")
        raise AssertionError("the extension is built and SQLite is reachable, yet an import would not use it")
    return made


def record(n: int) -> tuple[Any, ...]:
    hashes = {"md5": hashlib.md5(b"%d" % n).hexdigest(), "sha1": hashlib.sha1(b"%d" % n).hexdigest()}
    return (n, hashes, "vic-us", "1", "séries ✓" if n % 2 else None, '{"victim_identified":true}', None,
            f'{{"MediaID":{n}}}')


def stored(store: CaseStore, set_id: int) -> list[tuple[Any, ...]]:
    e = hash_set_entries
    columns = [e.c[name] for name in hs.ENTRY_FIELDS]
    with store._engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*columns).where(e.c.set_id == set_id).order_by(e.c.id))]


def test_loader_shares_the_sqlite3_module_library(sqlite_store: CaseStore) -> None:
    made = loader(sqlite_store)
    try:
        assert made.sqlite_version() == sqlite3.sqlite_version
    finally:
        made.close()


def test_rows_are_the_entry_rows_and_text_survives_as_utf8(sqlite_store: CaseStore) -> None:
    set_id = start(sqlite_store, "s")
    made = loader(sqlite_store)
    records = [record(n) for n in range(1, 301)]
    begin = made.submit_sql("BEGIN IMMEDIATE")
    assert made.submit_records(set_id, records[:100]) == 200
    assert made.submit_records(set_id, records[100:]) == 400
    commit = made.submit_sql("COMMIT")
    made.wait()
    assert commit == begin + 3 and made.completed() == commit  # jobs numbered in order; all ran
    made.close()
    rows = stored(sqlite_store, set_id)
    assert len(rows) == 600
    assert rows[0] == (set_id, 1, "md5", records[0][1]["md5"], "vic-us", "1", "séries ✓",
                       '{"victim_identified":true}', None, '{"MediaID":1}')
    assert rows[1][2:4] == ("sha1", records[0][1]["sha1"]) and rows[1][8:] == (None, None)  # first row only
    assert [r[1] for r in rows[::2]] == list(range(1, 301))


def test_a_failed_insert_is_reported_and_what_followed_is_skipped(sqlite_store: CaseStore) -> None:
    set_id = start(sqlite_store, "s")
    made = loader(sqlite_store)
    made.submit_sql("BEGIN IMMEDIATE")
    made.submit_records(set_id, [record(1)])
    made.submit_records(set_id, [(2, {"md5": None}, None, None, None, None, None, None)])  # value NOT NULL
    with pytest.raises(bulk.Error, match="NOT NULL constraint failed"):
        made.submit_records(set_id, [record(3)])
        made.submit_sql("COMMIT")
        made.wait()
    assert made.completed() == 2  # BEGIN and the first records; the failed job and those after it did not run
    made.discard()
    made.execute("ROLLBACK")
    made.close()
    assert stored(sqlite_store, set_id) == []


def test_a_set_that_is_not_there_is_refused(sqlite_store: CaseStore) -> None:
    made = loader(sqlite_store)
    try:
        made.submit_sql("BEGIN IMMEDIATE")
        made.submit_records(99, [record(1)])
        with pytest.raises(bulk.Error, match="FOREIGN KEY constraint failed"):
            made.wait()
        made.execute("ROLLBACK")
    finally:
        made.close()


def test_bad_values_raise_before_anything_is_queued(sqlite_store: CaseStore) -> None:
    set_id = start(sqlite_store, "s")
    made = loader(sqlite_store)
    try:
        with pytest.raises(TypeError, match="hashes must be a dict"):
            made.submit_records(set_id, [(1, [("md5", "00" * 16)], None, None, None, None, None, None)])
        with pytest.raises(TypeError, match="expected str or None, got int"):
            made.submit_records(set_id, [(1, {"md5": 5}, None, None, None, None, None, None)])
        with pytest.raises(TypeError, match="8-tuple"):
            made.submit_records(set_id, [(1, {})])
        made.wait()
    finally:
        made.close()
    assert stored(sqlite_store, set_id) == []
    with pytest.raises(bulk.Error, match="closed"):
        made.wait()


def test_statement_errors_carry_sqlites_message(sqlite_store: CaseStore) -> None:
    made = loader(sqlite_store)
    try:
        with pytest.raises(bulk.Error, match="no such table"):
            made.execute("SELECT * FROM no_such_table")
        made.execute("SELECT 1")  # usable again after the failure was raised
    finally:
        made.close()


def test_bulk_is_off_for_memory_databases_and_by_setting(
    sqlite_store: CaseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import create_engine

    assert hs._bulk_loader(create_engine("sqlite://")) is None
    monkeypatch.setenv("CAIRN_BULK_INSERT", "0")
    assert hs._bulk_loader(sqlite_store._engine) is None


def broken_after(count: int) -> Iterator[HashRecord]:
    for n in range(1, count + 1):
        yield HashRecord({"md5": hashlib.md5(b"%d" % n).hexdigest()})
    raise ValueError("the file went bad here")


@pytest.mark.parametrize("path", ["bulk", "executemany"])
@pytest.mark.parametrize("defer", [None, 0])
def test_a_reader_failing_part_way_leaves_no_rows(
    sqlite_store: CaseStore, monkeypatch: pytest.MonkeyPatch, path: str, defer: int | None
) -> None:
    if path == "executemany":
        monkeypatch.setenv("CAIRN_BULK_INSERT", "0")
    engine = sqlite_store._engine
    set_id = start(sqlite_store, "s")
    with pytest.raises(ValueError, match="went bad"):
        hs.insert_records(engine, set_id, broken_after(3_000), defer_index_after=defer, rows_per_transaction=700)
    hs.discard(engine, set_id)  # what CaseStore.import_hash_set does on any failure
    assert hs.entry_count(engine, set_id) == 0
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
        indexes = {r[1] for r in conn.exec_driver_sql("PRAGMA index_list(hash_set_entries)")}
    assert hs._value_index().name in indexes
