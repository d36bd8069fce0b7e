"""PdqIndex: exact equality with brute force (C kernel, numpy fallback, linear scan), ids, persistence, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from cairn.matching import pdq_index as P
from cairn.matching.pdq_index import PdqIndex, PdqMatches

U8 = npt.NDArray[np.uint8]
_PLANTED = (0, 1, 5, 9, 10, 11, 20, 29, 30, 31, 32, 33, 40)


def _flip(rng: np.random.Generator, h: U8, d: int) -> U8:
    bits = np.unpackbits(h)
    bits[rng.choice(256, d, replace=False)] ^= 1
    return np.packbits(bits)


def _data(seed: int = 7) -> tuple[U8, npt.NDArray[np.int64], U8]:
    """Random hashes, clusters of near copies, planted copies of the queries at 0..40 bits, duplicates."""
    rng = np.random.default_rng(seed)
    rand = rng.integers(0, 256, (3000, 32), dtype=np.uint8)
    centres = rng.integers(0, 256, (10, 32), dtype=np.uint8)
    cluster = np.array([_flip(rng, c, int(rng.integers(0, 20))) for c in centres for _ in range(60)])
    queries = np.concatenate([rng.integers(0, 256, (40, 32), dtype=np.uint8), centres])
    planted = np.array([_flip(rng, q, d) for q in queries[:40] for d in _PLANTED] + [queries[0]] * 3)
    stored = np.concatenate([rand, cluster, planted, rand[:50]])
    ids = rng.permutation(len(stored)).astype(np.int64) * 7 - 1000
    return stored, ids, queries


def _brute(stored: U8, ids: npt.NDArray[np.int64], queries: U8, t: int) -> PdqMatches:
    d = np.bitwise_count(stored.view(np.uint64)[None, :, :] ^ queries.view(np.uint64)[:, None, :]).sum(axis=2)
    qi, hi = np.nonzero(d <= t)
    order = np.lexsort((ids[hi], qi))
    return PdqMatches(qi[order].astype(np.int64), ids[hi][order], d[qi, hi][order].astype(np.int16))


def _same(a: PdqMatches, b: PdqMatches) -> None:
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def data() -> tuple[U8, npt.NDArray[np.int64], U8]:
    return _data()


@pytest.fixture(params=["c", "numpy"])
def kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "c":
        if not P.have_c_kernel():
            pytest.skip("C kernel not built")
    else:
        monkeypatch.setattr(P, "_core", None)
    yield str(request.param)


@pytest.mark.parametrize("threshold", [0, 10, 31])
@pytest.mark.parametrize("method", ["mih", "scan", "auto"])
def test_equals_brute_force(
    data: tuple[U8, npt.NDArray[np.int64], U8], kernel: str, threshold: int, method: str
) -> None:
    stored, ids, queries = data
    index = PdqIndex.build(stored, ids)
    expected = _brute(stored, ids, queries, threshold)
    got = index.query(queries, threshold, method=method)
    _same(got, expected)
    assert len(expected.ids) > len(queries)  # planted copies and clusters were found, not a trivial pass
    if threshold == 31:
        assert set(expected.distance.tolist()) >= {0, 1, 10, 11, 29, 30, 31}


def test_chunks_and_threads_give_the_same_rows(data: tuple[U8, npt.NDArray[np.int64], U8]) -> None:
    stored, ids, queries = data
    index = PdqIndex.build(stored, ids)
    whole = index.query(queries, 31)
    parts = list(index.query_chunks(queries, 31, chunk=7, workers=2))
    _same(PdqMatches(*(np.concatenate([getattr(p, f) for p in parts]) for f in PdqMatches._fields)), whole)


def test_duplicates_stored_once_and_every_id_reported() -> None:
    h = np.zeros((4, 32), dtype=np.uint8)
    h[3, 0] = 0x01  # one bit away from the others
    index = PdqIndex.build(h, np.array([10, 11, 12, 13], dtype=np.int64))
    assert len(index) == 4 and index.distinct == 2
    got = index.query(np.zeros((1, 32), dtype=np.uint8), 0)
    assert got.ids.tolist() == [10, 11, 12] and got.distance.tolist() == [0, 0, 0]
    got = index.query(["00" * 32], 1)
    assert got.ids.tolist() == [10, 11, 12, 13] and got.distance.tolist() == [0, 0, 0, 1]


def test_hex_strings_match_the_array_form(data: tuple[U8, npt.NDArray[np.int64], U8]) -> None:
    stored, ids, queries = data
    from_hex = PdqIndex.build([bytes(h).hex() for h in stored], ids)
    _same(from_hex.query([bytes(q).hex().upper() for q in queries], 31), _brute(stored, ids, queries, 31))


def test_save_load_round_trip(tmp_path: Path, data: tuple[U8, npt.NDArray[np.int64], U8]) -> None:
    stored, ids, queries = data
    index = PdqIndex.build(stored, ids)
    path = tmp_path / "set.pdqidx"
    index.save(path)
    loaded = PdqIndex.load(path)
    assert isinstance(loaded.entries, np.memmap) and isinstance(loaded.hashes, np.memmap)
    assert len(loaded) == len(index) and loaded.distinct == index.distinct
    _same(loaded.query(queries, 31), index.query(queries, 31))
    copied = PdqIndex.load(path, in_memory=True)
    assert not isinstance(copied.entries, np.memmap)
    _same(copied.query(queries, 31), index.query(queries, 31))


def test_empty_index(tmp_path: Path) -> None:
    index = PdqIndex.build(np.empty((0, 32), dtype=np.uint8), np.empty(0, dtype=np.int64))
    assert len(index) == 0
    assert len(index.query(["ab" * 32], 31).ids) == 0
    index.save(tmp_path / "empty.pdqidx")
    loaded = PdqIndex.load(tmp_path / "empty.pdqidx")
    assert len(loaded) == 0 and len(loaded.query(["ab" * 32], 256).ids) == 0


@pytest.mark.parametrize("bad", ["ab" * 31, "zz" * 32, "ab" * 32 + "0", " " + "ab" * 31 + "a"])
def test_malformed_hex_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="64 hex"):
        PdqIndex.build(["00" * 32, bad], np.array([1, 2], dtype=np.int64))
    index = PdqIndex.build(["00" * 32], np.array([1], dtype=np.int64))
    with pytest.raises(ValueError, match="64 hex"):
        index.query([bad])


def test_bad_arguments_refused() -> None:
    with pytest.raises(ValueError):
        PdqIndex.build(np.zeros((2, 31), dtype=np.uint8), np.array([1, 2], dtype=np.int64))
    with pytest.raises(ValueError, match="one id per hash"):
        PdqIndex.build(np.zeros((2, 32), dtype=np.uint8), np.array([1], dtype=np.int64))
    index = PdqIndex.build(np.zeros((1, 32), dtype=np.uint8), np.array([1], dtype=np.int64))
    with pytest.raises(ValueError, match="threshold"):
        index.query(np.zeros((1, 32), dtype=np.uint8), -1)


def test_not_an_index_refused(tmp_path: Path, data: tuple[U8, npt.NDArray[np.int64], U8]) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"not an index at all")
    with pytest.raises(ValueError, match="not a cairn PDQ index"):
        PdqIndex.load(junk)
    stored, ids, _ = data
    path = tmp_path / "cut.pdqidx"
    PdqIndex.build(stored, ids).save(path)
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)
    with pytest.raises(ValueError, match="past the end"):
        PdqIndex.load(path)


def test_verify_detects_a_flipped_bit_and_meta_round_trips(
    tmp_path: Path, data: tuple[U8, npt.NDArray[np.int64], U8]
) -> None:
    stored, ids, queries = data
    path = tmp_path / "set.pdqidx"
    PdqIndex.build(stored, ids).save(path, meta={"set": "known", "n": 3})
    assert P.read_meta(path) == {"set": "known", "n": 3}
    _same(PdqIndex.load(path, verify=True).query(queries, 31), _brute(stored, ids, queries, 31))
    raw = bytearray(path.read_bytes())
    layout, data_start = P._read_header(path)
    raw[data_start + layout["arrays"]["ids"]["offset"] + 5] ^= 1  # one bit of one id
    path.write_bytes(bytes(raw))
    PdqIndex.load(path)  # the layout is intact; only the checksums tell
    with pytest.raises(ValueError, match="checksum"):
        PdqIndex.load(path, verify=True)


def test_damaged_arrays_never_read_out_of_bounds(tmp_path: Path, data: tuple[U8, npt.NDArray[np.int64], U8]) -> None:
    """Entries pointing past the hashes and directories past the entries (an unverified damaged file) give
    wrong hits at worst, never a crash."""
    stored, ids, queries = data
    index = PdqIndex.build(stored, ids)
    index.entries = np.full_like(index.entries, np.uint32(0xFFFFFFFF))
    index.dirs = np.array(index.dirs)
    index.dirs[:, 1:-1] = np.uint32(0xFFFFFFF0)
    found = index.query(queries, 31, method="mih")
    assert len(found.ids) == 0


def test_union_equals_one_index_over_all_parts(data: tuple[U8, npt.NDArray[np.int64], U8]) -> None:
    stored, ids, queries = data
    cuts = [0, 5, 1200, 3000, len(stored)]
    parts = [PdqIndex.build(stored[a:b], ids[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]
    union = P.PdqIndexUnion(parts)
    assert len(union) == len(stored) and union.distinct == sum(p.distinct for p in parts)
    for t in (0, 31, 45):
        _same(union.query(queries, t), _brute(stored, ids, queries, t))
        _same(union.query(queries, t, workers=2, method="mih"), _brute(stored, ids, queries, t))
    with pytest.raises(TypeError):
        union.save("never-written")


def test_concurrent_saves_leave_one_valid_file(tmp_path: Path, data: tuple[U8, npt.NDArray[np.int64], U8]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    stored, ids, queries = data
    indexes = [PdqIndex.build(stored[: 1000 * (k + 1)], ids[: 1000 * (k + 1)]) for k in range(4)]
    path = tmp_path / "shared.pdqidx"
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda k: indexes[k].save(path, meta={"k": k}), range(4)))
    k = P.read_meta(path)["k"]
    loaded = PdqIndex.load(path, verify=True)
    _same(loaded.query(queries, 31), indexes[k].query(queries, 31))
    assert [p.name for p in tmp_path.iterdir()] == ["shared.pdqidx"]
