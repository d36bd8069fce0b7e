"""Hash sets in the case database, on SQLite and PostgreSQL: every format imported and read back whole,
export VICS 2.0 -> import again gives the same records, the same file is refused twice, a malformed row is
counted and the rest imported, a failure part-way leaves no set, each import is audited, sets are shared by
every case in a database."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any

import pytest

from cairn.matching.formats import ReadOptions, ReadReport, get_format
from cairn.matching.formats.base import HashRecord
from cairn.store import CaseStore
from cairn.store import hash_sets as hs
from cairn.store.db import max_bind_params
from cairn.store.schema import hash_set_entries
from tests.matching import test_formats as tf  # modules, not classes: pytest must not collect them here again
from tests.matching import test_vics as tv
from tests.matching.format_helper import BIKE, KITE, TREE, FormatTestHelper, Sample, essence

HELPERS: dict[str, type[FormatTestHelper]] = {
    "vics": tv.TestVics,
    "icse": tf.TestIcse,
    "csv": tf.TestPlainCsv,
    "te": tf.TestThreatExchange,
    "nsrl": tf.TestNsrl,
    "list": tf.TestHashList,
}


def read_direct(format_name: str, sample: Sample, path: Path) -> list[HashRecord]:
    return list(get_format(format_name).read(path, sample.options, ReadReport()))


def import_samples(store: CaseStore, folder: Path, format_name: str) -> list[tuple[Sample, Path, dict[str, Any]]]:
    """Import every distinct sample file of ``format_name``; return (sample, file, summary) for each."""
    done: list[tuple[Sample, Path, dict[str, Any]]] = []
    seen: set[str] = set()
    for index, sample in enumerate(HELPERS[format_name]().samples()):
        path = sample.build(folder / format_name / str(index))
        digest = hs.file_sha256(path)
        if digest in seen:
            continue
        seen.add(digest)
        summary = store.import_hash_set(
            path, actor="examiner", name=f"{format_name}-{index}", format_name=format_name, options=sample.options
        )
        done.append((sample, path, summary))
    return done


def stored(store: CaseStore, name: str) -> list[HashRecord]:
    out = io.StringIO()
    found = next(s for s in store.hash_sets() if s["name"] == name)
    records = list(hs.iter_records(store._engine, int(found["id"])))
    store.export_hash_set(name, "vics", out)  # the facade's export runs over the same records
    return records


@pytest.mark.parametrize("format_name", sorted(HELPERS))
def test_each_format_stored_and_read_back_whole(
    store: CaseStore, tmp_path: Path, format_name: str
) -> None:
    for sample, path, summary in import_samples(store, tmp_path, format_name):
        direct = read_direct(format_name, sample, path)
        assert summary["records"] == len(direct) and summary["format"] == format_name
        assert summary["warnings"] == sample.warnings, sample.name
        back = stored(store, summary["name"])
        assert [essence(r) for r in back] == [essence(r) for r in direct], sample.name
    listed = {s["name"]: s for s in store.hash_sets()}
    assert all(s["status"] == "complete" for s in listed.values())


def test_export_vics_then_import_again_gives_same_records(store: CaseStore, tmp_path: Path) -> None:
    exported: set[str] = set()
    for format_name in sorted(HELPERS):
        for sample, _path, summary in import_samples(store, tmp_path, format_name):
            if sample.options.code_table is not None:
                continue  # CAID codes are written through the user's table (tests/matching covers it)
            original = stored(store, summary["name"])
            export = tmp_path / "export" / f"{summary['name']}.json"
            export.parent.mkdir(exist_ok=True)
            with export.open("w", encoding="utf-8") as out:
                written = store.export_hash_set(summary["name"], "vics", out)
            assert written.written == len(original) and not written.warnings
            if hs.file_sha256(export) in exported:
                continue  # two sources with the same records (NSRL CSV and SQLite) export the same file
            exported.add(hs.file_sha256(export))
            options = dataclasses.replace(sample.options, scheme=summary["scheme"], ignorable=summary["ignorable"])
            again = store.import_hash_set(
                export, actor="examiner", name=f"{summary['name']}-again", format_name="vics", options=options
            )
            assert again["scheme"] == summary["scheme"]
            back = stored(store, again["name"])
            assert [essence(r, False) for r in back] == [essence(r, False) for r in original], sample.name


def test_only_categorised_export_leaves_uncategorised_out(store: CaseStore, tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    path.write_text(f"md5,category\n{BIKE['md5']},1\n{KITE['md5']},\n{TREE['md5']},0\n")
    store.import_hash_set(path, actor="examiner", name="cats", options=ReadOptions(scheme="vic-us"))
    records = stored(store, "cats")
    assert [r.category.value if r.category else None for r in records] == [1, None, 0]  # 0 is a value, None is not
    out = io.StringIO()
    assert store.export_hash_set("cats", "csv", out, only_categorised=True).written == 2
    assert KITE["md5"] not in out.getvalue()


def test_same_file_refused_and_name_taken(store: CaseStore, tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text(f"{BIKE['md5']}\n{KITE['sha1']}\n")
    first = store.import_hash_set(path, actor="examiner", options=ReadOptions(ignorable=True))
    assert first["name"] == "list" and first["records"] == 2 and first["ignorable"]
    with pytest.raises(hs.HashSetRefused, match="already imported as hash set 'list'"):
        store.import_hash_set(path, actor="examiner", name="other", options=ReadOptions(ignorable=True))
    other = tmp_path / "other.txt"
    other.write_text(f"{TREE['md5']}\n")
    with pytest.raises(hs.HashSetRefused, match="already exists"):
        store.import_hash_set(other, actor="examiner", name="list")
    assert [s["name"] for s in store.hash_sets()] == ["list"]


def test_malformed_row_counted_rest_imported(store: CaseStore, tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    path.write_text(f"md5,series\n{BIKE['md5']},a\nnot-a-hash,b\n{KITE['md5']},c\n")
    summary = store.import_hash_set(path, actor="examiner")
    assert (summary["records"], summary["warnings"], summary["skipped"]) == (2, 2, 1)  # the bad value, the skip
    listed = store.hash_sets()[0]
    assert (listed["record_count"], listed["warning_count"]) == (2, 2)
    assert listed["details"]["warnings"] and listed["details"]["warnings"][0].startswith("3:")


def test_failure_part_way_leaves_no_set(store: CaseStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hs, "STATEMENTS_PER_BATCH", 1)  # a small file then takes two transactions
    path = tmp_path / "list.txt"
    path.write_text("".join(f"{i:032x}\n" for i in range(hs.batch_rows(store._engine) + 10)))

    calls: list[int] = []

    def fail(done: int) -> None:
        calls.append(done)
        assert hs.entry_count(store._engine, hs.list_sets(store._engine, include_incomplete=True)[0]["id"]) == done
        raise KeyboardInterrupt  # after the first batch is committed

    with pytest.raises(KeyboardInterrupt):
        store.import_hash_set(path, actor="examiner", options=ReadOptions(ignorable=True), progress=fail)
    assert calls == [hs.batch_rows(store._engine)]
    assert hs.list_sets(store._engine, include_incomplete=True) == []
    summary = store.import_hash_set(path, actor="examiner", options=ReadOptions(ignorable=True))
    assert summary["records"] == hs.batch_rows(store._engine) + 10
    assert hs.entry_count(store._engine, summary["set_id"]) == summary["records"]


def test_killed_import_is_removed_by_the_next(store: CaseStore, tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text(f"{BIKE['md5']}\n")
    source = hs.SetSource("list", hs.file_sha256(path), path.name, "list", "none", True, "examiner")
    stale = hs.begin_import(store._engine, source, "2026-01-01T00:00:00.000000+00:00")
    hs.insert_records(store._engine, stale, [HashRecord({"md5": KITE["md5"]})])
    assert store.hash_sets() == []  # an importing set is not used
    summary = store.import_hash_set(path, actor="examiner", options=ReadOptions(ignorable=True))
    assert [s["id"] for s in store.hash_sets()] == [summary["set_id"]]
    assert hs.entry_count(store._engine, summary["set_id"]) == 1
    assert [r.hashes for r in stored(store, "list")] == [{"md5": BIKE["md5"]}]


def test_import_audited_and_chain_intact(store: CaseStore, tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    path.write_text(f"md5,category\n{BIKE['md5']},2\n")
    summary = store.import_hash_set(path, actor="examiner", options=ReadOptions(scheme="dhs"))
    entry = store.audit_entries()[-1]
    assert entry["action"] == "hashset.imported" and entry["actor"] == "examiner"
    details = entry["details"]
    assert details["source_sha256"] == hs.file_sha256(path) == summary["source_sha256"]
    assert (details["name"], details["format"], details["scheme"], details["records"]) == ("set", "csv", "dhs", 1)
    assert store.audit_verify() == []


def test_set_is_shared_by_every_case_in_the_database(
    store: CaseStore, tmp_path: Path, db_url: str | None, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("a case folder's own SQLite file holds one case; sharing is the PostgreSQL case")
    path = tmp_path / "list.txt"
    path.write_text(f"{BIKE['md5']}\n")
    store.import_hash_set(path, actor="examiner", options=ReadOptions(ignorable=True))
    with CaseStore.open(tmp_path / "case-two", db_url) as other:
        assert [s["name"] for s in other.hash_sets()] == ["list"]
        assert [e["action"] for e in other.audit_entries()] == ["case.created"]  # audited in the importing case


def test_batches_fit_the_bind_limit(store: CaseStore) -> None:
    rows = hs.batch_rows(store._engine)
    assert rows >= 1000 and rows * (len(hash_set_entries.columns) - 1) <= max_bind_params(store._engine)
