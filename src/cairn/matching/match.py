"""Matching a case's files against hash sets: the pure logic (no database).

Contract:

* ``MatchSettings`` is what a match run records: the PDQ threshold (default 31), the minimum PDQ quality of a
  query (50: lower-quality hashes are skipped, never matched) and the sets used, each by name AND source
  SHA-256, so a result can be reproduced later.
* ONE code path matches every kind of query: :func:`match_chunks` takes chunks of :class:`Query` (a key: the
  file id for ``cairn match``, the line number for ``cairn hashset match-file``; a hash kind; a lower-case hex
  value) and yields, per chunk, EVERY :class:`Hit` (query, set entry, distance). Exact kinds (md5, sha1,
  sha256) are looked up by an ``ExactLookup`` (in the store: SQL on ``hash_set_entries(kind, value)``, in
  batches); PDQ queries go to one :class:`~cairn.matching.pdq_index.PdqIndex` built once over the sets' PDQ
  entries (ids = entry ids; :func:`build_entry_index`) and return every entry within the threshold with its
  Hamming distance. A query that matches entries of two sets gets both hits: conflicts are kept, never
  resolved here. Memory is bounded by one chunk (and the index), whatever the number of queries.
* Which PDQ queries are good enough (quality >= ``MIN_PDQ_QUALITY``) is decided where they are read
  (:func:`pdq_quality_ok`); malformed hashes (stored or queried) are skipped, not fatal.
* Rotated and mirrored copies (``cairn match --dihedral``, recorded as ``MatchSettings.dihedral``): a PDQ query
  may carry its file's seven dihedral variants (``Query.variants``, the stored ``pdq_dihedral`` value, see
  :mod:`cairn.signals.pdq`), which the reader attaches only for such a run. Each variant is matched like the
  PDQ itself, within the same threshold. An entry found by several of a file's eight hashes gives ONE hit, at
  the smallest distance; on a tie the file's own hash wins, then the transforms in :data:`DIHEDRAL_TRANSFORMS`
  order. ``Hit.transform`` says how the file relates to the listed picture: None when the file's own PDQ
  matched, else the transform that turns the listed picture into the file (``rot90``: the file is the listed
  picture turned 90 degrees counter-clockwise; see :data:`~cairn.signals.pdq.DIHEDRAL_TRANSFORMS`). The
  variant matched is the file's hash under the INVERSE transform (it undoes what was done to the picture).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from cairn.matching.formats.base import MODEL_KINDS
from cairn.matching.pdq_index import DEFAULT_THRESHOLD, PdqIndex
from cairn.signals.pdq import DIHEDRAL_INVERSE, DIHEDRAL_TRANSFORMS, dihedral_variants

#: Hash kinds matched exactly (by equality of lower-case hex): the file digests, and the model-file kinds (only
#: model files have them: a reference list of known models matches the model files on the evidence).
EXACT_KINDS = ("md5", "sha1", "sha256", *MODEL_KINDS)
#: PDQ hashes below this quality are not matched (Meta's recommendation).
MIN_PDQ_QUALITY = 50
#: Query hashes per chunk (memory is bounded by one chunk's queries and hits).
QUERY_CHUNK = 100_000

#: ``lookup(kind, values)``: ``(value, entry id)`` of every set entry of ``kind`` whose value is in ``values``.
ExactLookup = Callable[[str, Sequence[str]], Iterable[tuple[str, int]]]


@dataclass(frozen=True)
class SetRef:
    """A hash set as a match run records it."""

    id: int
    name: str
    source_sha256: str
    ignorable: bool


@dataclass(frozen=True)
class MatchSettings:
    """The settings of one match run (recorded with it)."""

    sets: Sequence[SetRef]
    pdq_threshold: int = DEFAULT_THRESHOLD
    min_pdq_quality: int = MIN_PDQ_QUALITY
    dihedral: bool = False  # also match each file's seven rotated/mirrored PDQ variants

    def as_dict(self) -> dict[str, Any]:
        """The settings as the run and its audit entry record them."""
        return {
            "pdq_threshold": self.pdq_threshold,
            "min_pdq_quality": self.min_pdq_quality,
            "dihedral": self.dihedral,
            "sets": [
                {"name": s.name, "source_sha256": s.source_sha256, "known_harmless": s.ignorable} for s in self.sets
            ],
        }


class Query(NamedTuple):
    """One hash to match: ``key`` says whose it is (a file id, a line number), ``value`` is lower-case hex.

    ``variants``: for a PDQ of a ``--dihedral`` run, the file's stored seven dihedral variants (the
    ``pdq_dihedral`` value); empty otherwise."""

    key: int
    kind: str
    value: str
    variants: str = ""


class Hit(NamedTuple):
    """A query that matched set entry ``entry_id`` (``distance`` 0 for exact kinds); ``position`` is the
    query's place in its chunk. ``transform``: None, or the dihedral transform that turns the entry's picture
    into the query's file (the file's variant under the inverse transform is within ``distance``)."""

    key: int
    kind: str
    value: str
    entry_id: int
    distance: int
    position: int
    transform: str | None = None


@dataclass
class QueryCounts:
    """What the readers of queries counted: queries read, PDQs kept, PDQs skipped for low quality, and (for a
    ``--dihedral`` run) PDQs kept that came without dihedral variants (scanned by a cairn that did not store them:
    only their own hash is matched)."""

    queries: int = 0
    pdq_queried: int = 0
    pdq_skipped_low_quality: int = 0
    pdq_without_variants: int = 0  # --dihedral: PDQs matched whose file has no stored dihedral variants


def pdq_quality_ok(quality: int | None, min_quality: int, counts: QueryCounts, *, unknown_ok: bool) -> bool:
    """Whether a PDQ of ``quality`` is matched (``None``: unknown, matched only when ``unknown_ok``); counts it."""
    ok = unknown_ok if quality is None else quality >= min_quality
    if ok:
        counts.pdq_queried += 1
    else:
        counts.pdq_skipped_low_quality += 1
    return ok


def is_pdq(value: str) -> bool:
    """Whether ``value`` is a PDQ hash as 64 hex digits."""
    if len(value) != 64:
        return False
    try:
        return len(bytes.fromhex(value)) == 32  # fromhex skips spaces: "00 11..." is not a PDQ
    except ValueError:
        return False


def hex_to_array(values: Sequence[str]) -> npt.NDArray[np.uint8]:
    """``(n, 32)`` uint8 array of 64-hex PDQ hashes (already checked)."""
    if not values:
        return np.zeros((0, 32), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(values)), dtype=np.uint8).reshape(len(values), 32).copy()


#: PDQ entries gathered per block while an index is built (memory: about 40 bytes a hash, not a list per hash).
BUILD_BLOCK = 65_536


def build_entry_index(entries: Iterable[tuple[int, str]]) -> PdqIndex | None:
    """A PDQ index over ``(entry_id, pdq hex)`` pairs (malformed hashes skipped); None when there are none.

    The pairs are packed into arrays ``BUILD_BLOCK`` at a time, so a set of millions of PDQs is never held as
    Python objects, and put in entry-id order before the index is built."""
    hash_blocks: list[npt.NDArray[np.uint8]] = []
    id_blocks: list[npt.NDArray[np.int64]] = []
    ids: list[int] = []
    values: list[str] = []

    def pack() -> None:
        hash_blocks.append(hex_to_array(values))
        id_blocks.append(np.asarray(ids, dtype=np.int64))
        ids.clear()
        values.clear()

    for entry_id, value in entries:
        if is_pdq(value):
            ids.append(entry_id)
            values.append(value.lower())
            if len(ids) >= BUILD_BLOCK:
                pack()
    if ids:
        pack()
    if not hash_blocks:
        return None
    hashes, entry_ids = np.concatenate(hash_blocks), np.concatenate(id_blocks)
    order = np.argsort(entry_ids, kind="stable")  # the same index whatever order the pairs came in
    return PdqIndex.build(hashes[order], entry_ids[order])


def chunked(queries: Iterable[Query], size: int = QUERY_CHUNK) -> Iterator[list[Query]]:
    """``queries`` in lists of at most ``size``."""
    if size < 1:
        raise ValueError(f"a chunk holds at least one query, not {size}")
    chunk: list[Query] = []
    for query in queries:
        chunk.append(query)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def match_chunk(
    queries: Sequence[Query], lookup: ExactLookup, index: PdqIndex | None, threshold: int
) -> list[Hit]:
    """Every hit of ``queries``: exact kinds through ``lookup``, PDQ through ``index`` within ``threshold``.

    Hits come in query order (then distance, then entry id), whatever the chunking."""
    by_kind: dict[str, list[tuple[int, Query]]] = {}
    for position, query in enumerate(queries):
        by_kind.setdefault(query.kind, []).append((position, query))
    hits: list[Hit] = []
    for kind in EXACT_KINDS:
        where: dict[str, list[tuple[int, Query]]] = {}
        for position, query in by_kind.get(kind, ()):
            where.setdefault(query.value, []).append((position, query))
        if where:
            for value, entry_id in lookup(kind, list(where)):
                hits.extend(Hit(q.key, kind, value, int(entry_id), 0, p) for p, q in where.get(value, ()))
    pdq = [(p, q) for p, q in by_kind.get("pdq", ()) if is_pdq(q.value)]
    if index is not None and pdq:
        hits.extend(_pdq_hits(pdq, index, threshold))
    hits.sort(key=lambda h: (h.position, h.distance, h.entry_id))
    return hits


#: Tie order of a file's hashes for one entry: its own PDQ (transform None) first, then the variants in order.
_TRANSFORM_RANK: dict[str | None, int] = {None: 0, **{t: i for i, t in enumerate(DIHEDRAL_TRANSFORMS, start=1)}}


def _preference(hit: Hit) -> tuple[int, int]:
    return hit.distance, _TRANSFORM_RANK[hit.transform]


def _pdq_hits(pdq: Sequence[tuple[int, Query]], index: PdqIndex, threshold: int) -> list[Hit]:
    """The PDQ hits of ``(position, query)`` pairs: each query's own hash and, when it carries them, its dihedral
    variants, all in one index query; one hit per (query, entry): the smallest distance, then the rank."""
    hashes: list[str] = []
    owner: list[tuple[int, Query, str | None]] = []  # per hash queried: position, query, transform
    for position, query in pdq:
        hashes.append(query.value.lower())
        owner.append((position, query, None))
        variants = dihedral_variants(query.variants) if query.variants else None
        for variant, value in variants or ():  # malformed variants are skipped, like a malformed PDQ
            hashes.append(value)
            owner.append((position, query, DIHEDRAL_INVERSE[variant]))
    found = index.query(hex_to_array(hashes), threshold)
    best: dict[tuple[int, int], Hit] = {}
    for qi, entry_id, distance in zip(found.query_index, found.ids, found.distance, strict=True):
        position, query, transform = owner[int(qi)]
        hit = Hit(query.key, "pdq", query.value, int(entry_id), int(distance), position, transform)
        kept = best.get((position, hit.entry_id))
        if kept is None or _preference(hit) < _preference(kept):
            best[(position, hit.entry_id)] = hit
    return list(best.values())


def match_chunks(
    chunks: Iterable[Sequence[Query]], lookup: ExactLookup, index: PdqIndex | None, threshold: int
) -> Iterator[tuple[Sequence[Query], list[Hit]]]:
    """Each chunk of queries with its hits (:func:`match_chunk`): the one code path of every match."""
    for chunk in chunks:
        yield chunk, match_chunk(chunk, lookup, index, threshold)
