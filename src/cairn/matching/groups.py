"""Near-duplicate groups ("stacks") within a case: the logic behind ``cairn groups`` (storage: ``cairn.store.groups``).

Contract:

- Input: one :class:`GroupFile` per file of the case (id, logical path, SHA-256, PDQ and its quality, pixels).
- Exact duplicates (the same SHA-256) are joined first; then every two files whose PDQs (quality >= the minimum,
  50 by default) are within the Hamming-distance threshold are joined, the pairs coming from a
  :class:`~cairn.matching.pdq_index.PdqIndex` of the case's own PDQs queried with themselves (exact, not a
  Python loop over pairs). Joining is transitive (union-find): a chain of near copies is one group.
- A group of one file is no group. Groups are numbered 1, 2, ... in the order of their smallest (path, file id),
  so the same files always give the same numbers, whatever order they arrive in.
- Each group's representative is the member with the highest PDQ quality (no PDQ counts as -1), then the most
  pixels, then the smallest (path, file id). Each member's ``distance`` is its PDQ Hamming distance to the
  representative: 0 for the same SHA-256, None when either has no usable PDQ.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cairn.matching.match import MIN_PDQ_QUALITY, hex_to_array, is_pdq
from cairn.matching.pdq_index import DEFAULT_THRESHOLD, PdqIndex

#: ``progress(done, total)``: PDQ hashes queried so far.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class GroupFile:
    """What grouping needs to know of one file (``pdq`` None or ``quality`` below the minimum: not compared)."""

    file_id: int
    path: str
    sha256: str | None
    pdq: str | None
    quality: int | None
    pixels: int | None


@dataclass(frozen=True)
class Member:
    """A file in a group: whether it is the representative, and its PDQ distance to the representative."""

    file_id: int
    path: str
    is_representative: bool
    distance: int | None


@dataclass(frozen=True)
class Group:
    """A numbered group of two or more files, members in (path, file id) order."""

    number: int
    members: tuple[Member, ...]

    @property
    def representative(self) -> Member:
        """The member chosen to stand for the group."""
        return next(m for m in self.members if m.is_representative)


@dataclass(frozen=True)
class GroupSettings:
    """The settings of one grouping (recorded with it)."""

    pdq_threshold: int = DEFAULT_THRESHOLD
    min_pdq_quality: int = MIN_PDQ_QUALITY

    def as_dict(self) -> dict[str, Any]:
        """The settings as the run and its audit entry record them."""
        return {"pdq_threshold": self.pdq_threshold, "min_pdq_quality": self.min_pdq_quality}


@dataclass(frozen=True)
class Grouping:
    """The groups and the counts a run records."""

    groups: list[Group]
    counts: dict[str, int]


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[max(ra, rb)] = min(ra, rb)
        return True


def _usable_pdq(f: GroupFile, min_quality: int) -> bool:
    return f.pdq is not None and f.quality is not None and f.quality >= min_quality and is_pdq(f.pdq)


def group_files(
    files: Sequence[GroupFile], settings: GroupSettings = GroupSettings(), progress: Progress | None = None
) -> Grouping:
    """Group ``files`` as the module docstring says."""
    if not 0 <= settings.pdq_threshold <= 256:
        raise ValueError(f"the PDQ threshold must be 0..256, got {settings.pdq_threshold}")
    ordered = sorted(files, key=lambda f: (f.path, f.file_id))
    uf = _UnionFind(len(ordered))
    exact_joins = _join_exact(ordered, uf)
    usable = [i for i, f in enumerate(ordered) if _usable_pdq(f, settings.min_pdq_quality)]
    pdq_pairs, pdq_joins = _join_pdq(ordered, usable, uf, settings.pdq_threshold, progress)
    members: dict[int, list[int]] = {}
    for i in range(len(ordered)):
        members.setdefault(uf.find(i), []).append(i)
    groups = [
        _make_group(no, [ordered[i] for i in idx], settings.min_pdq_quality)
        for no, idx in enumerate((m for m in sorted(members.values(), key=lambda m: m[0]) if len(m) > 1), 1)
    ]
    counts = {
        "files": len(ordered),
        "pdq_compared": len(usable),
        "pdq_skipped": len(ordered) - len(usable),
        "exact_duplicate_joins": exact_joins,
        "pdq_pairs": pdq_pairs,
        "pdq_joins": pdq_joins,
        "groups": len(groups),
        "grouped_files": sum(len(g.members) for g in groups),
    }
    return Grouping(groups, counts)


def _join_exact(ordered: Sequence[GroupFile], uf: _UnionFind) -> int:
    first: dict[str, int] = {}
    joins = 0
    for i, f in enumerate(ordered):
        if f.sha256 is None:
            continue
        if f.sha256 in first:
            joins += uf.union(first[f.sha256], i)
        else:
            first[f.sha256] = i
    return joins


def _join_pdq(
    ordered: Sequence[GroupFile], usable: list[int], uf: _UnionFind, threshold: int, progress: Progress | None
) -> tuple[int, int]:
    """Join every two usable files within ``threshold``; return (pairs found, joins that merged two groups)."""
    total = len(usable)
    if total < 2:
        if progress is not None:
            progress(total, total)
        return 0, 0
    hashes = hex_to_array([str(ordered[i].pdq) for i in usable])
    index = PdqIndex.build(hashes, np.asarray(usable, dtype=np.int64))
    pairs = joins = done = 0
    chunk = 4096
    for part in index.query_chunks(hashes, threshold, chunk=chunk):
        for qi, other in zip(part.query_index.tolist(), part.ids.tolist(), strict=True):
            me = usable[qi]
            if other > me:
                pairs += 1
                joins += uf.union(me, other)
        done = min(total, done + chunk)
        if progress is not None:
            progress(done, total)
    return pairs, joins


def _make_group(number: int, files: list[GroupFile], min_quality: int) -> Group:
    def rank(f: GroupFile) -> tuple[int, int, str, int]:
        quality = f.quality if _usable_pdq(f, min_quality) and f.quality is not None else -1
        return (-quality, -(f.pixels or 0), f.path, f.file_id)

    rep = min(files, key=rank)
    return Group(
        number,
        tuple(Member(f.file_id, f.path, f is rep, _distance(f, rep, min_quality)) for f in files),
    )


def _distance(f: GroupFile, rep: GroupFile, min_quality: int) -> int | None:
    if f is rep or (f.sha256 is not None and f.sha256 == rep.sha256):
        return 0
    if not (_usable_pdq(f, min_quality) and _usable_pdq(rep, min_quality)):
        return None
    mine, theirs = (int.from_bytes(bytes.fromhex(str(x.pdq)), "big") for x in (f, rep))
    return (mine ^ theirs).bit_count()
