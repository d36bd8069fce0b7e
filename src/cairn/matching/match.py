"""Matching a case's files against hash sets: the pure logic (no database).

Contract:

* ``MatchSettings`` is what a match run records: the PDQ threshold (default 31), the minimum PDQ quality of a
  query (50: lower-quality hashes are skipped, never matched) and the sets used, each by name AND source
  SHA-256, so a result can be reproduced later.
* Exact matching (md5, sha1, sha256) is a database join (``cairn.store.matches``); this module does the PDQ
  part: :func:`pdq_hits` builds a :class:`~cairn.matching.pdq_index.PdqIndex` over the sets' PDQ entries (ids
  = entry ids) and returns EVERY (file, entry) pair within the threshold with its Hamming distance. A file
  whose PDQ matches entries of two sets gets both hits: conflicts are kept, never resolved here.
* Malformed stored hashes (not 64 hex digits) are skipped, not fatal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from cairn.matching.pdq_index import DEFAULT_THRESHOLD, PdqIndex

#: Hash kinds matched exactly (by equality of lower-case hex).
EXACT_KINDS = ("md5", "sha1", "sha256")
#: PDQ hashes below this quality are not matched (Meta's recommendation).
MIN_PDQ_QUALITY = 50
#: Queries per chunk (the progress callback is called after each).
QUERY_CHUNK = 4096

#: ``progress(done, total)``: how many query hashes have been matched so far.
Progress = Callable[[int, int], None]


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

    def as_dict(self) -> dict[str, Any]:
        """The settings as the run and its audit entry record them."""
        return {
            "pdq_threshold": self.pdq_threshold,
            "min_pdq_quality": self.min_pdq_quality,
            "sets": [
                {"name": s.name, "source_sha256": s.source_sha256, "known_harmless": s.ignorable} for s in self.sets
            ],
        }


@dataclass(frozen=True)
class PdqHit:
    """A file whose PDQ is within the threshold of a set entry's PDQ."""

    file_id: int
    entry_id: int
    distance: int


@dataclass
class PdqQueries:
    """The case's PDQ hashes to match: those of quality >= the minimum, and a count of those skipped."""

    file_ids: list[int] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    skipped_low_quality: int = 0

    def add(self, file_id: int, value: str, quality: int | None, min_quality: int) -> None:
        """Keep ``value`` when its quality reaches ``min_quality`` and it is a PDQ hash; count it otherwise."""
        if quality is None or quality < min_quality:
            self.skipped_low_quality += 1
        elif _is_pdq(value):
            self.file_ids.append(file_id)
            self.hashes.append(value.lower())


def _is_pdq(value: str) -> bool:
    if len(value) != 64:
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True


def hex_to_array(values: Sequence[str]) -> npt.NDArray[np.uint8]:
    """``(n, 32)`` uint8 array of 64-hex PDQ hashes (already checked)."""
    if not values:
        return np.zeros((0, 32), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(values)), dtype=np.uint8).reshape(len(values), 32).copy()


def build_entry_index(entries: Iterable[tuple[int, str]]) -> PdqIndex | None:
    """A PDQ index over ``(entry_id, pdq hex)`` pairs (malformed hashes skipped); None when there are none."""
    ids: list[int] = []
    values: list[str] = []
    for entry_id, value in entries:
        if _is_pdq(value):
            ids.append(entry_id)
            values.append(value.lower())
    if not ids:
        return None
    return PdqIndex.build(hex_to_array(values), np.asarray(ids, dtype=np.int64))


def pdq_hits(
    index: PdqIndex | None, queries: PdqQueries, threshold: int, progress: Progress | None = None
) -> Iterator[list[PdqHit]]:
    """Every (file, entry) within ``threshold``, one list per chunk of queries, with the exact distance."""
    total = len(queries.hashes)
    if index is None or total == 0:
        if progress is not None:
            progress(total, total)
        return
    q = hex_to_array(queries.hashes)
    done = 0
    for part in index.query_chunks(q, threshold, chunk=QUERY_CHUNK):
        hits = [
            PdqHit(queries.file_ids[int(qi)], int(entry), int(dist))
            for qi, entry, dist in zip(part.query_index, part.ids, part.distance, strict=True)
        ]
        done = min(total, done + QUERY_CHUNK)
        if progress is not None:
            progress(done, total)
        yield hits
