"""Exact PDQ near-match index: every stored hash within a Hamming distance of a query, at 10M+ hashes.

Contract:

- ``PdqIndex.build(hashes, ids)`` takes ``(n, 32)`` uint8 hashes or 64-hex strings and one int64 id per hash.
  Each distinct hash is stored once; its ids are kept (in input order) and every one of them is reported.
- ``index.query(queries, threshold)`` returns ``PdqMatches``: parallel arrays ``query_index``, ``ids``,
  ``distance`` holding EVERY (query, stored id) pair with distance <= threshold (exact, 100% recall), sorted
  by (query_index, id). ``query_chunks`` yields the same in chunks of queries, for millions of queries.
- ``index.save(path)`` writes one file: a versioned header (magic, version, JSON layout) and raw little-endian
  arrays, page-aligned. ``PdqIndex.load(path)`` memory-maps them: no rebuild, no pickle; load takes the time
  of reading the header. A file that is not a valid index raises ``ValueError``.
- ``len(index)`` is the number of stored (hash, id) rows; ``index.distinct`` the number of distinct hashes.
- Malformed hex (not 64 hexadecimal digits) or a wrong array shape raises ``ValueError``.

Method: multi-index hashing. The 256 bits are split into ``M = 11`` substrings (3 of 24 bits, 8 of 23). With
threshold t = r*M + a, a match is within radius r on one of substrings 0..a or within r-1 on one of the others
(pigeonhole), so each substring's table is probed at every key within that radius. A table is the substring's
keys sorted by their top ``p`` bits: a directory of 2^p offsets and one uint32 entry per hash, (hash index <<
sh) | the key's remaining bits, which filter the bucket before the full 256-bit popcount check. ``p`` grows with
the index (about log2(n) - 3) so that buckets stay near 5-10 entries. Memory at 10M distinct hashes (p = 21):
320 MB of hashes, 440 MB of entries, 92 MB of directories, 80 MB of ids and 40 MB of offsets (ids grouped by
hash): 972 MB. The query kernel is C (``_pdqindex``) when it built,
otherwise a vectorised numpy version of the same algorithm; both return identical, exact results.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

_core: Any
try:
    _core = importlib.import_module("cairn.matching._pdqindex")
except ImportError:  # pragma: no cover - the C extension is optional
    _core = None

M = 11
WIDTHS: tuple[int, ...] = (24, 24, 24, 23, 23, 23, 23, 23, 23, 23, 23)
STARTS: tuple[int, ...] = tuple(sum(WIDTHS[:i]) for i in range(M))
DEFAULT_THRESHOLD = 31
MAGIC = b"CAIRNPDQ"
VERSION = 2  # 2: offsets uint32, header meta and per-block SHA-256
_ALIGN = 4096
_HEX = frozenset("0123456789abcdefABCDEF")
_CHUNK = 2048
_MAX_HEADER = 1 << 22
_DIGEST_BLOCK = 1 << 26
_UMASK = os.umask(0o022)
os.umask(_UMASK)

U8 = npt.NDArray[np.uint8]
U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]
HashesLike = npt.NDArray[np.uint8] | Sequence[str]


class PdqMatches(NamedTuple):
    """Parallel arrays, one row per (query, stored id) within the threshold, sorted by (query_index, id)."""

    query_index: I64
    ids: I64
    distance: npt.NDArray[np.int16]


def have_c_kernel() -> bool:
    """True when the compiled query kernel is available (else the numpy fallback runs)."""
    return _core is not None


def default_workers() -> int:
    """Threads a query uses when not told: the CPUs this process may run on (at most 8)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(8, cpus))


def to_hash_array(hashes: HashesLike) -> U8:
    """``(n, 32)`` uint8 array from hashes given as such an array or as 64-hex strings; ValueError otherwise."""
    if isinstance(hashes, np.ndarray):
        if hashes.dtype != np.uint8 or hashes.ndim != 2 or hashes.shape[1] != 32:
            raise ValueError(f"PDQ hashes must be a (n, 32) uint8 array, got {hashes.dtype} {hashes.shape}")
        return np.ascontiguousarray(hashes)
    out = np.empty((len(hashes), 32), dtype=np.uint8)
    for i, h in enumerate(hashes):
        if not isinstance(h, str) or len(h) != 64 or not _HEX.issuperset(h):
            raise ValueError(f"not a PDQ hash (64 hex digits) at position {i}: {h!r:.80}")
        out[i] = np.frombuffer(bytes.fromhex(h), dtype=np.uint8)
    return out


def substring_keys(hashes: U8, s: int) -> U32:
    """Key of substring ``s`` for each hash: bits [STARTS[s], STARTS[s] + WIDTHS[s]), bit 0 = MSB of byte 0."""
    start, width = STARTS[s], WIDTHS[s]
    b0, off = start >> 3, start & 7
    nb = (off + width + 7) >> 3
    v = np.zeros(len(hashes), dtype=np.uint64)
    for i in range(nb):
        v = (v << np.uint64(8)) | hashes[:, b0 + i].astype(np.uint64)
    v >>= np.uint64(nb * 8 - off - width)
    return (v & np.uint64((1 << width) - 1)).astype(np.uint32)


def _radii(threshold: int) -> list[int]:
    r, a = divmod(threshold, M)
    return [r if s <= a else r - 1 for s in range(M)]


def _prefix_bits(n: int) -> int:
    return min(min(WIDTHS), max(8, n.bit_length() - 3))


@dataclass(frozen=True)
class _Layout:
    p: int
    sh: int


class PdqIndex:
    """Exact PDQ near-match index by multi-index hashing (see the module docstring)."""

    def __init__(self, hashes: U8, dirs: U32, entries: U32, offsets: U32, ids: I64, p: int) -> None:
        self.hashes = hashes
        self.dirs = dirs
        self.entries = entries
        self.offsets = offsets
        self.ids = ids
        self.layout = _Layout(p=p, sh=max(WIDTHS) - p)
        #: The file the index was loaded from (None: built in this process).
        self.path: Path | None = None

    # -- construction -------------------------------------------------------------------------------------------

    @classmethod
    def build(cls, hashes: HashesLike, ids: npt.ArrayLike, *, prefix_bits: int | None = None) -> PdqIndex:
        """Index ``hashes`` (n, 32 uint8 or hex strings) with one int64 id each (``prefix_bits``: the
        directory's key bits, 8..23, default from the size; any value gives the same results)."""
        arr = to_hash_array(hashes)
        id_arr = np.ascontiguousarray(np.asarray(ids, dtype=np.int64))
        if id_arr.shape != (len(arr),):
            raise ValueError(f"need one id per hash: {len(arr)} hashes, ids shaped {id_arr.shape}")
        if len(arr) >= 2**31:
            raise ValueError("at most 2**31 - 1 hashes per index")
        distinct, offsets, grouped_ids = _dedupe(arr, id_arr)
        n = len(distinct)
        p = _prefix_bits(n) if prefix_bits is None else prefix_bits
        if not 8 <= p <= min(WIDTHS) or n > 1 << (32 - max(WIDTHS) + p):
            raise ValueError(f"prefix_bits {p} does not fit {n} hashes")
        sh = max(WIDTHS) - p
        dirs = np.zeros((M, (1 << p) + 1), dtype=np.uint32)
        entries = np.empty((M, n), dtype=np.uint32)
        for s in range(M):
            keys = substring_keys(distinct, s)
            rbits = WIDTHS[s] - p
            prefix = keys >> np.uint32(rbits)
            order = _prefix_order(prefix)
            dirs[s, 1:] = np.cumsum(np.bincount(prefix, minlength=1 << p), dtype=np.uint64)
            residual = keys[order] & np.uint32((1 << rbits) - 1)
            entries[s] = (order.astype(np.uint32) << np.uint32(sh)) | residual
        return cls(distinct, dirs, entries, offsets, grouped_ids, p)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def distinct(self) -> int:
        """Number of distinct stored hashes."""
        return len(self.hashes)

    # -- queries ------------------------------------------------------------------------------------------------

    def query(
        self,
        queries: HashesLike,
        threshold: int = DEFAULT_THRESHOLD,
        *,
        workers: int | None = None,
        method: str = "auto",
    ) -> PdqMatches:
        """Every (query, id) with Hamming distance <= threshold, sorted by (query_index, id).

        ``method``: "auto" (multi-index probes, or a linear scan where that is cheaper: tiny indexes, huge
        thresholds), "mih" or "scan" to force one; all three give identical results.
        """
        parts = list(self.query_chunks(queries, threshold, workers=workers, method=method))
        if not parts:
            return _empty_matches()
        return PdqMatches(*(np.concatenate([getattr(p, f) for p in parts]) for f in PdqMatches._fields))

    def query_chunks(
        self,
        queries: HashesLike,
        threshold: int = DEFAULT_THRESHOLD,
        *,
        chunk: int = _CHUNK,
        workers: int | None = None,
        method: str = "auto",
    ) -> Iterator[PdqMatches]:
        """``query`` in chunks of ``chunk`` queries (global query indices), run on ``workers`` threads (default:
        :func:`default_workers`); the rows do not depend on the number of threads."""
        if not 0 <= threshold <= 256:
            raise ValueError(f"threshold must be 0..256, got {threshold}")
        if method not in ("auto", "mih", "scan"):
            raise ValueError(f"method must be auto, mih or scan, got {method!r}")
        q = to_hash_array(queries)
        linear = method == "scan" or (method == "auto" and self._scan_is_cheaper(threshold))
        starts = range(0, len(q), chunk)
        workers = default_workers() if workers is None else workers
        if workers <= 1 or len(starts) <= 1:
            for st in starts:
                yield self._query_block(q[st : st + chunk], threshold, st, linear)
            return
        with ThreadPoolExecutor(max_workers=workers) as pool:
            yield from pool.map(lambda st: self._query_block(q[st : st + chunk], threshold, st, linear), starts)

    def _scan_is_cheaper(self, threshold: int) -> bool:
        """A probe costs about eight hash comparisons (cache misses); compare with reading every hash."""
        p = self.layout.p
        probes = sum(math.comb(p, k) for r in _radii(threshold) for k in range(0, min(r, p) + 1))
        return probes * 8 > self.distinct

    def _query_block(self, q: U8, threshold: int, base: int, linear: bool) -> PdqMatches:
        if self.distinct == 0 or len(q) == 0:
            return _empty_matches()
        if _core is not None:
            qb, ib, db = _core.query(
                self.hashes,
                self.dirs,
                self.entries,
                self.distinct,
                self.layout.p,
                self.layout.sh,
                np.ascontiguousarray(q),
                len(q),
                threshold,
                int(linear),
            )
            qi = np.frombuffer(qb, dtype=np.int64)
            di = np.frombuffer(ib, dtype=np.uint32).astype(np.int64)
            dist = np.frombuffer(db, dtype=np.uint8).astype(np.int16)
        else:
            qi, di, dist = _query_numpy(self, q, threshold, linear)
        return self._expand(qi + base, di, dist)

    def _expand(self, qi: I64, di: I64, dist: npt.NDArray[np.int16]) -> PdqMatches:
        """Distinct-hash hits -> one row per stored id, sorted by (query_index, id)."""
        lo = self.offsets[di].astype(np.int64)
        counts = self.offsets[di + 1].astype(np.int64) - lo
        rows = np.repeat(np.arange(len(di)), counts)
        within = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
        ids = self.ids[np.repeat(lo, counts) + within]
        q_rows, d_rows = qi[rows], dist[rows]
        order = np.lexsort((ids, q_rows))
        return PdqMatches(q_rows[order], ids[order], d_rows[order])

    # -- persistence --------------------------------------------------------------------------------------------

    def _arrays(self) -> dict[str, np.ndarray[Any, Any]]:
        return {
            "hashes": self.hashes,
            "dirs": self.dirs,
            "entries": self.entries,
            "offsets": self.offsets,
            "ids": self.ids,
        }

    def save(self, path: str | os.PathLike[str], *, meta: Mapping[str, Any] | None = None) -> None:
        """Write the index to one file (header + page-aligned raw arrays); atomically replaces ``path``.

        The header records ``meta`` (any JSON object, e.g. what the index was built from: :func:`read_meta`
        returns it without mapping the arrays) and the SHA-256 of every array, in blocks (``load(verify=True)``
        checks them). The file is written under a unique temporary name in the same folder, flushed to disk,
        then renamed over ``path``: a reader sees the old file or the new one, never a partial one, and
        concurrent writers do not collide (the last rename wins)."""
        arrays = self._arrays()
        layout: dict[str, Any] = {
            "version": VERSION,
            "m": M,
            "widths": list(WIDTHS),
            "p": self.layout.p,
            "sh": self.layout.sh,
            "arrays": {},
            "meta": dict(meta or {}),
        }
        offset = 0
        for name, arr in arrays.items():
            layout["arrays"][name] = {
                "dtype": arr.dtype.str,
                "shape": list(arr.shape),
                "offset": offset,
                "sha256": _block_digests(np.ascontiguousarray(arr)),
            }
            offset += -(-arr.nbytes // _ALIGN) * _ALIGN
        header = json.dumps(layout, sort_keys=True).encode()
        if len(header) > _MAX_HEADER:
            raise ValueError("PDQ index header too large")
        data_start = -(-(len(MAGIC) + 8 + len(header)) // _ALIGN) * _ALIGN
        target = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            os.chmod(tmp, 0o666 & ~_UMASK)  # as open() would create it (mkstemp makes it private)
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + VERSION.to_bytes(4, "little") + len(header).to_bytes(4, "little") + header)
                for name, arr in arrays.items():
                    f.seek(data_start + layout["arrays"][name]["offset"])
                    np.ascontiguousarray(arr).tofile(f)
                f.truncate(data_start + offset)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, in_memory: bool = False, verify: bool = False) -> PdqIndex:
        """Memory-map an index written by ``save``; ValueError if the file is not one.

        ``verify=True`` also checks every array against the SHA-256 digests of the header (reading the whole
        file once, on :func:`default_workers` threads): a damaged file raises ValueError, never gives wrong hits.
        ``in_memory=True`` copies the arrays into process memory instead (one sequential read; anonymous memory
        can be backed by huge pages, which may help the random probes of very large indexes).
        """
        size = os.path.getsize(path)
        layout, data_start = _read_header(path)
        if (
            layout.get("m") != M
            or layout.get("widths") != list(WIDTHS)
            or not isinstance(layout.get("p"), int)
            or layout.get("sh") != max(WIDTHS) - layout["p"]
            or not isinstance(layout.get("arrays"), dict)
        ):
            raise ValueError(f"{path}: PDQ index layout not supported by this version")
        arrays = {name: _map_array(path, size, data_start, layout["arrays"].get(name), name) for name in _EXPECTED}
        if in_memory:  # copied first, so that verifying reads the copies (one pass over the file)
            arrays = {name: np.array(arr) for name, arr in arrays.items()}
        if verify:
            _verify(path, arrays, layout["arrays"])
        index = cls(
            arrays["hashes"], arrays["dirs"], arrays["entries"], arrays["offsets"], arrays["ids"], int(layout["p"])
        )
        index._check_shapes(path)
        index.path = Path(path)
        return index

    def _check_shapes(self, path: str | os.PathLike[str]) -> None:
        n = self.distinct
        ok = (
            self.hashes.shape == (n, 32)
            and self.dirs.shape == (M, (1 << self.layout.p) + 1)
            and self.entries.shape == (M, n)
            and self.offsets.shape == (n + 1,)
            and 8 <= self.layout.p <= 23
            and n < 1 << (32 - self.layout.sh)
            and int(self.offsets[0]) == 0
            and int(self.offsets[-1]) == len(self.ids)
            and bool(np.all(self.dirs[:, 0] == 0))
            and bool(np.all(self.dirs[:, -1] == n))
        )
        if not ok:
            raise ValueError(f"{path}: inconsistent PDQ index arrays")


class PdqIndexUnion(PdqIndex):
    """Several indexes queried as one (e.g. one per hash set, each loaded from its own file).

    ``query``/``query_chunks`` give exactly what one index built over all the parts' (hash, id) rows would
    give: every part is queried (each with its own scan-or-probe choice) and the hits merged, sorted by
    (query_index, id). Ids should be unique across the parts (a pair found in two parts is reported twice).
    ``len`` and ``distinct`` are the parts' sums; such a union cannot be saved (save its parts)."""

    def __init__(self, parts: Sequence[PdqIndex]) -> None:  # noqa: D107 - no arrays of its own
        self.parts = list(parts)
        self.path = None

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    @property
    def distinct(self) -> int:
        """Sum of the parts' distinct hashes."""
        return sum(p.distinct for p in self.parts)

    def query_chunks(
        self,
        queries: HashesLike,
        threshold: int = DEFAULT_THRESHOLD,
        *,
        chunk: int = _CHUNK,
        workers: int | None = None,
        method: str = "auto",
    ) -> Iterator[PdqMatches]:
        """Same contract as :meth:`PdqIndex.query_chunks`, over every part."""
        if not 0 <= threshold <= 256:
            raise ValueError(f"threshold must be 0..256, got {threshold}")
        if method not in ("auto", "mih", "scan"):
            raise ValueError(f"method must be auto, mih or scan, got {method!r}")
        q = to_hash_array(queries)
        linear = [method == "scan" or (method == "auto" and p._scan_is_cheaper(threshold)) for p in self.parts]

        def block(st: int) -> PdqMatches:
            found = [
                p._query_block(q[st : st + chunk], threshold, st, lin)
                for p, lin in zip(self.parts, linear, strict=True)
            ]
            return _merge(found)

        starts = range(0, len(q), chunk)
        workers = default_workers() if workers is None else workers
        if workers <= 1 or len(starts) <= 1:
            yield from map(block, starts)
            return
        with ThreadPoolExecutor(max_workers=workers) as pool:
            yield from pool.map(block, starts)

    def save(self, path: str | os.PathLike[str], *, meta: Mapping[str, Any] | None = None) -> None:
        """Not supported: save each part."""
        raise TypeError("a PdqIndexUnion is not saved as one file; save each of its parts")


def _merge(found: Sequence[PdqMatches]) -> PdqMatches:
    found = [f for f in found if len(f.ids)]
    if not found:
        return _empty_matches()
    if len(found) == 1:
        return found[0]
    q, ids, dist = (np.concatenate([getattr(f, name) for f in found]) for name in PdqMatches._fields)
    order = np.lexsort((ids, q))
    return PdqMatches(q[order], ids[order], dist[order])


def read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``meta`` object an index file was saved with (reads only the header); ValueError if not an index."""
    layout, _ = _read_header(path)
    meta = layout.get("meta", {})
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: damaged PDQ index header")
    return meta


def _read_header(path: str | os.PathLike[str]) -> tuple[dict[str, Any], int]:
    with open(path, "rb") as f:
        head = f.read(len(MAGIC) + 8)
        if len(head) < len(MAGIC) + 8 or head[: len(MAGIC)] != MAGIC:
            raise ValueError(f"{path}: not a cairn PDQ index")
        version = int.from_bytes(head[len(MAGIC) : len(MAGIC) + 4], "little")
        hlen = int.from_bytes(head[len(MAGIC) + 4 :], "little")
        if version != VERSION or hlen > _MAX_HEADER:
            raise ValueError(f"{path}: unsupported PDQ index version {version}")
        raw = f.read(hlen)
    try:
        layout = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{path}: damaged PDQ index header") from exc
    if not isinstance(layout, dict) or len(raw) != hlen:
        raise ValueError(f"{path}: damaged PDQ index header")
    return layout, -(-(len(MAGIC) + 8 + hlen) // _ALIGN) * _ALIGN


def _blocks(arr: np.ndarray[Any, Any]) -> list[memoryview]:
    flat = np.ascontiguousarray(arr).reshape(-1).view(np.uint8).data
    return [flat[i : i + _DIGEST_BLOCK] for i in range(0, max(len(flat), 1), _DIGEST_BLOCK)]


def _block_digests(arr: np.ndarray[Any, Any]) -> list[str]:
    with ThreadPoolExecutor(max_workers=default_workers()) as pool:  # hashlib releases the GIL on large buffers
        return list(pool.map(lambda b: hashlib.sha256(b).hexdigest(), _blocks(arr)))


def _verify(path: str | os.PathLike[str], arrays: Mapping[str, Any], specs: Mapping[str, Any]) -> None:
    for name, arr in arrays.items():
        want = specs[name].get("sha256")
        if not isinstance(want, list) or _block_digests(np.ascontiguousarray(arr)) != want:
            raise ValueError(f"{path}: array {name} does not match its checksum (damaged file)")


_EXPECTED = {"hashes": "|u1", "dirs": "<u4", "entries": "<u4", "offsets": "<u4", "ids": "<i8"}


def _map_array(path: str | os.PathLike[str], size: int, data_start: int, spec: Any, name: str) -> Any:
    if not isinstance(spec, dict) or spec.get("dtype") != _EXPECTED[name]:
        raise ValueError(f"{path}: array {name} missing or of the wrong type")
    try:
        shape = tuple(int(x) for x in spec["shape"])
        offset = data_start + int(spec["offset"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: array {name} has a damaged description") from exc
    if any(x < 0 for x in shape):
        raise ValueError(f"{path}: array {name} has a damaged description")
    dtype = np.dtype(_EXPECTED[name])
    nbytes = math.prod(shape) * dtype.itemsize
    if offset < data_start or offset + nbytes > size:
        raise ValueError(f"{path}: array {name} extends past the end of the file")
    if nbytes == 0:
        return np.zeros(shape, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)


def _empty_matches() -> PdqMatches:
    return PdqMatches(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int16))


def _dedupe(arr: U8, ids: I64) -> tuple[U8, U32, I64]:
    """Distinct hashes (sorted), offsets (distinct + 1) into the ids grouped by hash (input order kept)."""
    if len(arr) == 0:
        return arr, np.zeros(1, np.uint32), ids
    words = arr.view(">u8")
    order = _lex_order(words)
    sw = words[order]
    new = np.ones(len(arr), dtype=bool)
    new[1:] = np.any(sw[1:] != sw[:-1], axis=1)
    firsts = np.flatnonzero(new)
    offsets = np.append(firsts, len(arr)).astype(np.uint32)
    return np.ascontiguousarray(arr[order[firsts]]), offsets, np.ascontiguousarray(ids[order])


def _lex_order(words: npt.NDArray[np.uint64]) -> I64:
    """Stable lexicographic order of the rows of ``words`` (n, 4): the same as ``np.lexsort`` on the four
    columns (first most significant), but one sort of the first word plus a lexsort of only the rows whose
    first word is shared (few, apart from duplicates), instead of four full sorts."""
    order: I64 = np.argsort(words[:, 0], kind="stable")
    w0 = words[order, 0]
    tied = np.zeros(len(order), dtype=bool)
    same = w0[1:] == w0[:-1]
    tied[1:] |= same
    tied[:-1] |= same
    if tied.any():
        pos = np.flatnonzero(tied)
        sub = order[pos]  # runs of equal first words, each run in input order, runs in w0 order
        rest = words[sub]
        order[pos] = sub[np.lexsort((rest[:, 3], rest[:, 2], rest[:, 1], rest[:, 0]))]
    return order


def _prefix_order(prefix: U32) -> I64:
    """``np.argsort(prefix, kind="stable")`` for keys below 2**32 as two 16-bit radix passes (much faster)."""
    low: I64 = np.argsort((prefix & np.uint32(0xFFFF)).astype(np.uint16), kind="stable")
    high = np.argsort((prefix[low] >> np.uint32(16)).astype(np.uint16), kind="stable")
    out: I64 = low[high]
    return out


def _popcount_rows(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    out: npt.NDArray[np.int64] = np.bitwise_count(x).sum(axis=1, dtype=np.int64)
    return out


def _masks(p: int, r: int) -> tuple[U32, npt.NDArray[np.int64]]:
    """All p-bit flip masks of weight <= r and their weights."""
    masks = [np.zeros(1, np.uint32)]
    current = np.zeros(1, np.uint32)
    top = np.full(1, -1, np.int64)
    for _ in range(r):
        bits = np.arange(p)
        grid = bits[None, :] > top[:, None]
        rows, cols = np.nonzero(grid)
        current = current[rows] | (np.uint32(1) << cols.astype(np.uint32))
        top = cols.astype(np.int64)
        masks.append(current)
    weights = np.concatenate([np.full(len(m), w, np.int64) for w, m in enumerate(masks)])
    return np.concatenate(masks), weights


def _query_numpy(index: PdqIndex, q: U8, threshold: int, linear: bool) -> tuple[I64, I64, npt.NDArray[np.int16]]:
    """Same algorithm as the C kernel, vectorised per query (or the same linear scan)."""
    words = index.hashes.view(np.uint64)
    qwords = q.view(np.uint64)
    radii = _radii(threshold)
    p, sh = index.layout.p, index.layout.sh
    out_q: list[I64] = []
    out_i: list[I64] = []
    out_d: list[npt.NDArray[np.int16]] = []
    rmax = max(radii)
    if linear:
        for i in range(len(q)):
            d = _popcount_rows(words ^ qwords[i])
            hit = np.flatnonzero(d <= threshold)
            out_q.append(np.full(len(hit), i, np.int64))
            out_i.append(hit.astype(np.int64))
            out_d.append(d[hit].astype(np.int16))
    else:
        masks, weights = _masks(p, rmax)
        qkeys = [substring_keys(q, s) for s in range(M)]
        for i in range(len(q)):
            cands = [_candidates(index, s, int(qkeys[s][i]), radii[s], masks, weights, sh) for s in range(M)]
            cand = np.unique(np.concatenate(cands))
            d = _popcount_rows(words[cand] ^ qwords[i])
            keep = d <= threshold
            out_q.append(np.full(int(keep.sum()), i, np.int64))
            out_i.append(cand[keep])
            out_d.append(d[keep].astype(np.int16))
    if not out_q:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int16)
    return np.concatenate(out_q), np.concatenate(out_i), np.concatenate(out_d)


def _candidates(
    index: PdqIndex, s: int, qkey: int, radius: int, masks: U32, weights: npt.NDArray[np.int64], sh: int
) -> I64:
    if radius < 0:
        return np.empty(0, np.int64)
    rbits = WIDTHS[s] - index.layout.p
    use = weights <= radius
    v = (qkey >> rbits) ^ masks[use]
    rem = radius - weights[use]
    lo = index.dirs[s][v].astype(np.int64)
    counts = index.dirs[s][v + 1].astype(np.int64) - lo
    starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
    pos = starts + np.arange(int(counts.sum()))
    e = index.entries[s][pos]
    res = e & np.uint32((1 << sh) - 1)
    ok = np.bitwise_count(res ^ np.uint32(qkey & ((1 << rbits) - 1))) <= np.repeat(rem, counts)
    found: I64 = (e[ok] >> np.uint32(sh)).astype(np.int64)
    return found
