"""Per-set PDQ index files (cairn.store.pdq_cache), on SQLite and PostgreSQL.

Hash sets are CSV files the test writes: random 256-bit PDQ values, clusters of near copies, and near copies of
the queries at known distances, so the truth is computed here by brute force. Every check is on the hits that
``CaseStore.match_hashes`` (the code path of ``cairn hashset match-file`` and ``cairn match``) returns, or on the
index the cache hands to it, against a fresh build from the database.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from cairn.matching.match import Query, build_entry_index
from cairn.matching.pdq_index import PdqIndex, PdqIndexUnion, PdqMatches, read_meta
from cairn.store import CaseStore, pdq_cache
from cairn.store import hash_sets as _hash_sets
from cairn.store import matches as _matches

from .helpers import raw_engine

U8 = npt.NDArray[np.uint8]


def _flip(rng: np.random.Generator, h: U8, d: int) -> U8:
    bits = np.unpackbits(h)
    bits[rng.choice(256, d, replace=False)] ^= 1
    return np.packbits(bits)


def make_set(rng: np.random.Generator, queries: U8, n_random: int = 300) -> U8:
    """Random hashes, a cluster of near copies, and copies of some queries at 0..40 bits (and a duplicate)."""
    rand = rng.integers(0, 256, (n_random, 32), dtype=np.uint8)
    centre = rng.integers(0, 256, 32, dtype=np.uint8)
    cluster = np.array([_flip(rng, centre, int(rng.integers(0, 16))) for _ in range(40)])
    planted = np.array([_flip(rng, q, d) for q in queries[::3] for d in (0, 7, 19, 31, 32, 40)])
    return np.concatenate([rand, cluster, planted, rand[:2]])


def write_csv(path: Path, hashes: U8) -> Path:
    path.write_text("pdq\n" + "".join(f"{bytes(h).hex()}\n" for h in hashes))
    return path


def brute(sets: dict[str, U8], queries: U8, t: int = 31) -> list[tuple[int, str, int]]:
    """(query key, set name, distance) of every stored hash within ``t``, sorted."""
    out = []
    for name, stored in sets.items():
        d = np.bitwise_count(stored.view(np.uint64)[None, :, :] ^ queries.view(np.uint64)[:, None, :]).sum(axis=2)
        out += [(int(q), name, int(d[q, s])) for q, s in zip(*np.nonzero(d <= t), strict=True)]
    return sorted(out)


def hits(store: CaseStore, queries: U8, names: list[str] | None = None) -> list[tuple[int, str, int]]:
    chunk = [Query(i, "pdq", bytes(q).hex()) for i, q in enumerate(queries)]
    return sorted(
        (r["key"], r["set"], r["distance"]) for rows in store.match_hashes([chunk], set_names=names) for r in rows
    )


def same(a: PdqMatches, b: PdqMatches) -> None:
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def set_row(store: CaseStore, name: str) -> dict[str, Any]:
    [row] = [s for s in store.hash_sets() if s["name"] == name]
    return row


@pytest.fixture
def queries() -> U8:
    return np.random.default_rng(3).integers(0, 256, (60, 32), dtype=np.uint8)


def test_import_writes_the_file_and_matching_loads_it(
    tmp_path: Path, case_dir: Path, db_url: str | None, queries: U8
) -> None:
    stored = make_set(np.random.default_rng(1), queries)
    with CaseStore.open(case_dir, db_url) as store:
        summary = store.import_hash_set(write_csv(tmp_path / "a.csv", stored), actor="t", name="a")
        path = pdq_cache.index_path(case_dir, summary["set_id"])
        assert path.is_file()
        meta = read_meta(path)
        assert meta["identity"]["source_sha256"] == summary["source_sha256"]
        assert meta["entries"] == len(stored) and meta["distinct"] == len(np.unique(stored, axis=0))
        before = path.stat()
        assert hits(store, queries) == brute({"a": stored}, queries)
        engine = raw_engine(case_dir, db_url)
        try:
            cached = pdq_cache.set_index(engine, case_dir, set_row(store, "a"), write=True)
            fresh = build_entry_index(_matches.pdq_entries(engine, [summary["set_id"]]))
        finally:
            engine.dispose()
    assert cached.path == path  # loaded from the file, not rebuilt
    assert fresh is not None
    same(cached.query(queries, 31), fresh.query(queries, 31))
    same(cached.query(queries, 60), fresh.query(queries, 60))
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # used as it was


def test_a_set_reimported_under_its_name_is_rebuilt(
    tmp_path: Path, case_dir: Path, db_url: str | None, queries: U8
) -> None:
    rng = np.random.default_rng(2)
    old, new = make_set(rng, queries), make_set(rng, queries[1:])
    with CaseStore.open(case_dir, db_url) as store:
        first = store.import_hash_set(write_csv(tmp_path / "old.csv", old), actor="t", name="known")
        stale = tmp_path / "stale.pdqidx"
        shutil.copy(pdq_cache.index_path(case_dir, first["set_id"]), stale)
        engine = raw_engine(case_dir, db_url)
        try:
            _hash_sets.discard(engine, first["set_id"])
        finally:
            engine.dispose()
        second = store.import_hash_set(write_csv(tmp_path / "new.csv", new), actor="t", name="known")
        path = pdq_cache.index_path(case_dir, second["set_id"])
        shutil.copy(stale, path)  # the old set's file where the new set's belongs (as when the id is reused)
        assert hits(store, queries) == brute({"known": new}, queries)
        assert read_meta(path)["identity"]["source_sha256"] == second["source_sha256"]  # rewritten
        assert not pdq_cache.index_path(case_dir, first["set_id"]).exists() or first["set_id"] == second["set_id"]


def test_a_replaced_database_is_not_trusted(tmp_path: Path, case_dir: Path, queries: U8) -> None:
    """SQLite: case.db deleted and made again, the same file imported again under the same name (same set id,
    same source SHA-256, same counts): the old file is not used."""
    stored = make_set(np.random.default_rng(4), queries)
    csv = write_csv(tmp_path / "a.csv", stored)
    with CaseStore.open(case_dir) as store:
        summary = store.import_hash_set(csv, actor="t", name="a")
    path = pdq_cache.index_path(case_dir, summary["set_id"])
    old_identity = read_meta(path)["identity"]
    kept = tmp_path / "kept.pdqidx"
    shutil.copy(path, kept)
    (case_dir / "case.db").unlink()
    with CaseStore.open(case_dir) as store:
        other = store.import_hash_set(write_csv(tmp_path / "b.csv", stored[:5]), actor="t", name="b")
        again = store.import_hash_set(csv, actor="t", name="a")
        assert (again["source_sha256"], again["records"]) == (summary["source_sha256"], summary["records"])
        shutil.copy(kept, pdq_cache.index_path(case_dir, again["set_id"]))
        if again["set_id"] != summary["set_id"]:
            shutil.copy(kept, pdq_cache.index_path(case_dir, summary["set_id"]))  # under both names
        result = hits(store, queries, ["a"])
        both = hits(store, queries)
    assert result == brute({"a": stored}, queries)
    assert both == brute({"a": stored, "b": stored[:5]}, queries)
    assert other["set_id"] != again["set_id"]
    assert read_meta(pdq_cache.index_path(case_dir, again["set_id"]))["identity"] != old_identity


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "header"])
def test_a_damaged_file_is_rebuilt(
    tmp_path: Path, case_dir: Path, db_url: str | None, queries: U8, damage: str
) -> None:
    stored = make_set(np.random.default_rng(5), queries, n_random=3000)
    with CaseStore.open(case_dir, db_url) as store:
        summary = store.import_hash_set(write_csv(tmp_path / "a.csv", stored), actor="t", name="a")
        path = pdq_cache.index_path(case_dir, summary["set_id"])
        data = bytearray(path.read_bytes())
        if damage == "flip":  # one bit inside the hashes array: only the checksum can tell
            data[4096 * 2 + 100] ^= 0x10
        elif damage == "truncate":
            data = data[: len(data) // 2]
        elif damage == "garbage":
            data = bytearray(b"\0" * len(data))
        else:
            data[20:40] = b"{" * 20
        path.write_bytes(bytes(data))
        if damage == "flip":
            with pytest.raises(ValueError, match="checksum"):
                PdqIndex.load(path, verify=True)
        assert hits(store, queries) == brute({"a": stored}, queries)
        engine = raw_engine(case_dir, db_url)
        try:
            reloaded = pdq_cache.set_index(engine, case_dir, set_row(store, "a"), write=False)
        finally:
            engine.dispose()
    assert reloaded.path == path  # the rebuilt file is valid and used
    PdqIndex.load(path, verify=True)


def test_several_sets_give_the_hits_of_one_combined_index(
    tmp_path: Path, case_dir: Path, db_url: str | None, queries: U8
) -> None:
    rng = np.random.default_rng(6)
    sets = {name: make_set(rng, queries[k::2]) for k, name in enumerate(["one", "two"])}
    sets["three"] = np.concatenate([sets["one"][:50], rng.integers(0, 256, (20, 32), dtype=np.uint8)])  # overlap
    sets["empty"] = np.zeros((0, 32), dtype=np.uint8)
    with CaseStore.open(case_dir, db_url) as store:
        for name, hashes in sets.items():
            store.import_hash_set(write_csv(tmp_path / f"{name}.csv", hashes), actor="t", name=name)
        assert hits(store, queries) == brute(sets, queries)
        assert hits(store, queries, ["two", "empty"]) == brute({"two": sets["two"]}, queries)
        rows = [set_row(store, n) for n in sets]
        engine = raw_engine(case_dir, db_url)
        try:
            union = pdq_cache.load_index(engine, case_dir, rows, write=False)
            combined = build_entry_index(_matches.pdq_entries(engine, [int(r["id"]) for r in rows]))
            none = pdq_cache.load_index(engine, case_dir, [set_row(store, "empty")], write=False)
        finally:
            engine.dispose()
    assert isinstance(union, PdqIndexUnion) and combined is not None and none is None
    assert len(union) == len(combined) == sum(len(h) for h in sets.values())
    for t in (0, 31, 64):
        same(union.query(queries, t), combined.query(queries, t))
        same(union.query(queries, t, workers=2, method="scan"), combined.query(queries, t))


def test_a_read_only_store_writes_no_file(tmp_path: Path, case_dir: Path, db_url: str | None, queries: U8) -> None:
    stored = make_set(np.random.default_rng(7), queries)
    with CaseStore.open(case_dir, db_url) as store:
        store.import_hash_set(write_csv(tmp_path / "a.csv", stored), actor="t", name="a")
    shutil.rmtree(pdq_cache.cache_dir(case_dir))
    with CaseStore.open(case_dir, db_url, read_only=True) as reader:
        assert hits(reader, queries) == brute({"a": stored}, queries)
    assert not pdq_cache.cache_dir(case_dir).exists()
    with CaseStore.open(case_dir, db_url) as store:  # a writing store saves it again
        assert hits(store, queries) == brute({"a": stored}, queries)
    assert len(list(pdq_cache.cache_dir(case_dir).glob("set-*.pdqidx"))) == 1


def test_pdq_entries_pages_through_equal_values_and_other_sets(
    tmp_path: Path, case_dir: Path, db_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages seek the (kind, value) index past the last (value, id): runs of one PDQ longer than a page, other
    kinds and other sets' PDQs in between lose or repeat nothing."""
    rng = np.random.default_rng(11)
    few = rng.integers(0, 256, (4, 32), dtype=np.uint8)
    stored = np.concatenate([few[rng.integers(0, 4, 23)], rng.integers(0, 256, (9, 32), dtype=np.uint8)])
    other = np.concatenate([few, few])  # the same values in another set
    a = tmp_path / "a.csv"
    a.write_text("pdq,md5\n" + "".join(f"{bytes(h).hex()},{i:032x}\n" for i, h in enumerate(stored)))
    monkeypatch.setattr(_matches, "ENTRY_PAGE", 3)
    with CaseStore.open(case_dir, db_url) as store:
        set_a = store.import_hash_set(a, actor="t", name="a")["set_id"]
        set_b = store.import_hash_set(write_csv(tmp_path / "b.csv", other), actor="t", name="b")["set_id"]
        engine = raw_engine(case_dir, db_url)
        try:
            got_a = list(_matches.pdq_entries(engine, [set_a]))
            got_both = list(_matches.pdq_entries(engine, [set_a, set_b]))
        finally:
            engine.dispose()
    assert sorted(v for _, v in got_a) == sorted(bytes(h).hex() for h in stored)
    assert len({i for i, _ in got_a}) == len(stored)  # no entry twice
    assert len(got_both) == len(stored) + len(other) and len({i for i, _ in got_both}) == len(got_both)
    assert got_both == sorted(got_both, key=lambda p: (p[1], p[0]))
