"""The fast import paths give exactly what the general ones give.

* Reading: the VICS and CSV fast readers (a plan per record shape / per header) against the general per-field
  reading, record by record, on files mixing plain records with every kind of odd one (upper-case and ``0x``
  hashes, PhotoDNA in base64, string flags, categories outside the scheme, bad hashes, unknown fields, the same
  field twice, AlternativeHashes of unknown names): same records, same field order, same warnings and skips.
* Storing: the rows stored on SQLite (through the C bulk loader and through ``executemany``, with and without
  the deferred (kind, value) index) and on PostgreSQL (COPY) are exactly the rows :func:`entry_rows` makes for
  the records, in order; the index is there afterwards, also after an import that fails part-way (whose rows
  are gone), and an index a killed import left missing is built again by the next import.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
from pathlib import Path
from typing import Any

import ijson
import pytest
from sqlalchemy import Engine, inspect, select

from cairn.matching.formats import ReadOptions, ReadReport, csv_plain, vics
from cairn.matching.formats._text import column_name, delimiter_of, first_line, rows
from cairn.matching.formats.base import HashRecord
from cairn.matching.formats.vics import CONTEXT_2_0
from cairn.store import CaseStore
from cairn.store import hash_sets as hs
from cairn.store.schema import hash_set_entries

PHOTODNA = bytes((i * 11) % 256 for i in range(144))


def digest(kind: str, n: int) -> str:
    return hashlib.new(kind, b"benign item %d" % n).hexdigest()


def pdq(n: int) -> str:
    return hashlib.sha256(b"pdq %d" % n).hexdigest()


def media(n: int) -> dict[str, Any]:
    """Record ``n``: plain most of the time, odd in one of many ways otherwise."""
    plain: dict[str, Any] = {
        "MediaID": n,
        "MD5": digest("md5", n),
        "SHA1": digest("sha1", n),
        "Category": n % 5,
        "VictimIdentified": n % 2 == 0,
        "IsDistributed": True,
    }
    odd = n % 23
    if odd == 1:
        plain["MD5"] = plain["MD5"].upper()
    elif odd == 2:
        plain["AlternativeHashes"] = [{"HashName": "PDQ", "HashValue": pdq(n)}]
    elif odd == 3:
        plain["PhotoDNA"] = base64.b64encode(PHOTODNA).decode()
    elif odd == 4:
        plain["VictimIdentified"] = "yes"
    elif odd == 5:
        plain["IsDistributed"] = "maybe"  # not yes/no: a warning, kept in extra
    elif odd == 6:
        plain["Category"] = 9  # not in vic-us: a warning, kept in extra
    elif odd == 7:
        plain["MD5"] = "not-a-hash"  # a warning; the SHA-1 still makes the record
    elif odd == 8:
        plain = {"MediaID": n, "MD5": ""}  # no valid hash: skipped
    elif odd == 9:
        plain["md5"] = digest("md5", n + 1)  # the same field twice, differently spelt
    elif odd == 10:
        plain["AlternativeHashes"] = [{"HashName": "Weird", "HashValue": "1"}]  # unknown: kept in extra
    elif odd == 11:
        plain["AlternativeHashes"] = [{"HashName": "MD5", "HashValue": digest("md5", n + 2)}]  # differs: warning
    elif odd == 12:
        plain["Series"] = "kites"
        plain["Comments"] = None
        plain["Tags"] = ["a", {"b": 1.5}]
    elif odd == 13:
        plain["Series"] = 12  # not text: kept in extra
    elif odd == 14:
        plain["SHA1"] = " 0X" + plain["SHA1"].upper() + " "
    elif odd == 15:
        plain["category"] = "2"
    elif odd == 16:
        plain["AlternativeHashes"] = "not a list"
    elif odd == 17:
        plain = {"AlternativeHashes": [{"HashName": "PDQ", "HashValue": pdq(n)}], **plain}
    elif odd == 18:
        plain["Category"] = None
        plain["VictimIdentified"] = None
    return plain


def shape(record: HashRecord | None) -> Any:
    """Everything a record holds, dict orders included (they decide the stored JSON and the row order)."""
    if record is None:
        return None
    return (
        list(record.hashes.items()),
        record.category,
        record.series,
        list(record.flags.items()),
        record.comments,
        list(record.extra.items()),
        record.ignorable,
        record.position,
    )


def report_shape(report: ReadReport) -> Any:
    return (report.records, report.skipped, report.warning_count, report.warnings)


def write_vics(path: Path, count: int) -> None:
    body = ",\n".join(json.dumps(media(n)) for n in range(1, count + 1))
    path.write_text(
        '{"@odata.context": "' + CONTEXT_2_0.format(variant="US", entity="Media") + f'",\n"value": [\n{body}\n]}}\n'
    )


@pytest.mark.parametrize("scheme", ["vic-us", "none"])
def test_vics_fast_reading_equals_general(tmp_path: Path, scheme: str) -> None:
    path = tmp_path / "set.json"
    write_vics(path, 460)
    options = ReadOptions(scheme=scheme, ignorable=False)
    fast_report = ReadReport()
    fast = [shape(r) for r in vics.VICS.read(path, options, fast_report)]
    general_report = ReadReport()
    with path.open("rb") as stream:
        objects = list(ijson.items(stream, "value.item", use_float=True))
    general = [shape(vics._record(m, n, options, general_report, "vic-us")) for n, m in enumerate(objects, 1)]
    assert fast == [g for g in general if g is not None]
    assert report_shape(fast_report) == report_shape(general_report)
    assert general_report.warning_count > 0 and general_report.skipped > 0  # the odd records are there
    reader = vics._FastReader(options, ReadReport(), "vic-us")
    taken = sum(reader.record(m, n) is not None for n, m in enumerate(objects, 1))
    assert taken > len(objects) // 2  # most records took the fast path


def csv_rows(n: int) -> list[str]:
    row = [digest("md5", n), digest("sha1", n), pdq(n) if n % 10 == 0 else "", str(n % 5), "true", "", str(n)]
    odd = n % 17
    if odd == 1:
        row[0] = row[0].upper()
    elif odd == 2:
        row[1] = " " + row[1] + " "
    elif odd == 3:
        row[3] = "9"  # not in vic-us: warning, kept in extra
    elif odd == 4:
        row[4] = "perhaps"  # not yes/no
    elif odd == 5:
        row[0] = "zz"  # bad hash
    elif odd == 6:
        row[0] = row[1] = row[2] = ""  # no hash: skipped
    elif odd == 7:
        row = row[:3]  # short row
    elif odd == 8:
        row = [*row, "surplus"]
    elif odd == 9:
        row[5] = "N"
        row[6] = " "
    elif odd == 10:
        row[3] = " 2 "
    return row


@pytest.mark.parametrize("scheme", ["vic-us", "none"])
def test_csv_fast_reading_equals_general(tmp_path: Path, scheme: str) -> None:
    path = tmp_path / "set.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["MD5", "sha-1", "pdq", "Category", "victim_identified", "Is_Distributed", "Media ID"])
        for n in range(1, 400):
            writer.writerow(csv_rows(n))
    options = ReadOptions(scheme=scheme, ignorable=True)
    fast_report = ReadReport()
    fast = [shape(r) for r in csv_plain.CSV.read(path, options, fast_report)]
    general_report = ReadReport()
    with path.open("rb") as stream:
        delimiter = delimiter_of(first_line(stream.read(65536)))
    found = list(rows(path, delimiter, general_report))
    columns = [(h, column_name(h)) for h in found[0][1]]
    general = [shape(csv_plain._record(columns, r, n, options, general_report, "none")) for n, r in found[1:]]
    assert fast == [g for g in general if g is not None]
    assert report_shape(fast_report) == report_shape(general_report)
    assert general_report.warning_count > 0 and general_report.skipped > 0
    plain = csv_plain._FastRows(columns, options, ReadReport(), "none")
    assert sum(plain.record(r, n) is not None for n, r in found[1:]) > len(found) // 2


def test_csv_two_columns_for_one_kind_read_the_general_way(tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    path.write_text(f"md5,MD5,sha1\n{digest('md5', 1)},{digest('md5', 2)},\n,{digest('md5', 3)},{digest('sha1', 3)}\n")
    records = list(csv_plain.CSV.read(path, ReadOptions(), ReadReport()))
    assert [dict(r.hashes) for r in records] == [
        {"md5": digest("md5", 2)},
        {"md5": digest("md5", 3), "sha1": digest("sha1", 3)},
    ]


def records(count: int) -> list[HashRecord]:
    path_records = []
    for n in range(1, count + 1):
        hashes = {"md5": digest("md5", n), "sha1": digest("sha1", n)}
        if n % 7 == 0:
            hashes["pdq"] = pdq(n)
        path_records.append(
            HashRecord(
                hashes,
                None,
                "series é" if n % 3 == 0 else None,
                {"victim_identified": n % 2 == 0} if n % 4 else {},
                "a comment" if n % 5 == 0 else None,
                extra={"MediaID": n, "Notes": ["x", None, 1.5]} if n % 6 else {},
            )
        )
    return path_records


def stored_rows(engine: Engine, set_id: int) -> list[tuple[Any, ...]]:
    e = hash_set_entries
    columns = [e.c[name] for name in hs.ENTRY_FIELDS]
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*columns).where(e.c.set_id == set_id).order_by(e.c.id))]


def value_index_present(engine: Engine) -> bool:
    found = inspect(engine).get_indexes(hash_set_entries.name)
    return any(ix["column_names"] == ["kind", "value"] for ix in found)


@pytest.fixture(params=["bulk", "executemany"])
def sqlite_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, store: CaseStore) -> str:
    """Each SQLite import test runs through the C bulk loader and through ``executemany`` (PostgreSQL: COPY)."""
    if store._engine.dialect.name != "sqlite":
        if request.param == "executemany":
            pytest.skip("PostgreSQL imports by COPY: one path")
    elif request.param == "executemany":
        monkeypatch.setenv("CAIRN_BULK_INSERT", "0")
    else:
        loader = hs._bulk_loader(store._engine)
        if loader is None:
            pytest.skip("cairn.store._bulkinsert is not built: reinstall cairn where a C compiler is present")
        loader.close()
    return str(request.param)


def start(store: CaseStore, name: str) -> int:
    source = hs.SetSource(name, hashlib.sha256(name.encode()).hexdigest(), name, "vics", "none", False, "examiner")
    return hs.begin_import(store._engine, source, "2026-01-01T00:00:00.000000+00:00")


@pytest.mark.parametrize("defer", [None, 0])
def test_stored_rows_are_entry_rows_on_every_backend(store: CaseStore, defer: int | None, sqlite_path: str) -> None:
    engine = store._engine
    first = start(store, "existing")
    hs.insert_records(engine, first, records(50))  # rows already in the table before the import
    made = records(2_000)
    set_id = start(store, "big")
    calls: list[int] = []
    count = hs.insert_records(
        engine, set_id, iter(made), calls.append, defer_index_after=defer, rows_per_transaction=500
    )
    assert count == 2_000 and calls[-1] == 2_000 and len(calls) > 4
    expected = [row for n, record in enumerate(made, 1) for row in hs.entry_rows(set_id, n, record)]
    assert stored_rows(engine, set_id) == expected
    assert len(stored_rows(engine, first)) == sum(len(r.hashes) for r in records(50))
    assert value_index_present(engine)


def test_deferred_import_failing_part_way_leaves_no_rows_and_the_index(
    store: CaseStore, backend: str, sqlite_path: str
) -> None:
    if backend != "sqlite":
        pytest.skip("the (kind, value) index is deferred on SQLite only")
    engine = store._engine
    set_id = start(store, "big")

    def stop(done: int) -> None:
        if done >= 1_000:  # the index is dropped by now (after the first transaction)
            assert not value_index_present(engine)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        hs.insert_records(engine, set_id, records(2_000), stop, defer_index_after=0, rows_per_transaction=500)
    assert hs.entry_count(engine, set_id) == 0
    assert hs.list_sets(engine, include_incomplete=True) == []
    assert value_index_present(engine)


def test_index_a_killed_import_left_missing_is_built_by_the_next(
    store: CaseStore, backend: str, tmp_path: Path
) -> None:
    if backend != "sqlite":
        pytest.skip("the (kind, value) index is deferred on SQLite only")
    engine = store._engine
    with engine.begin() as conn:  # what an import killed while the index was deferred leaves
        conn.exec_driver_sql(f"DROP INDEX {hs._value_index().name}")
    assert not value_index_present(engine)
    path = tmp_path / "set.csv"
    path.write_text(f"md5\n{digest('md5', 1)}\n")
    store.import_hash_set(path, actor="examiner")
    assert value_index_present(engine)


def test_index_a_killed_import_left_missing_is_built_by_the_next_match(
    store: CaseStore, backend: str, tmp_path: Path
) -> None:
    if backend != "sqlite":
        pytest.skip("the (kind, value) index is deferred on SQLite only")
    path = tmp_path / "set.csv"
    path.write_text(f"md5\n{digest('md5', 1)}\n")
    store.import_hash_set(path, actor="examiner")
    with store._engine.begin() as conn:  # what an import killed while the index was deferred leaves
        conn.exec_driver_sql(f"DROP INDEX {hs._value_index().name}")
    store.run_match(actor="examiner")
    assert value_index_present(store._engine)
