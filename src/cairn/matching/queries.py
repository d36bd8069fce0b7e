"""Hashes that arrived without media (e.g. from a partner hotline), read as match queries.

Contract:

* A queries file is a CSV read by the plain CSV format's reader (:mod:`cairn.matching.formats.csv_plain`):
  header detected (a ``pdq``, ``md5``, ``sha1`` or ``sha256`` column, names case-insensitive, delimiter ``,``,
  ``;`` or tab), other columns ignored; without a header each column's kind comes from its hex length (64
  digits: SHA-256). Every valid hash of a row is one :class:`~cairn.matching.match.Query` whose key is the
  row's line number; hashes are normalised to lower-case hex.
* A malformed hash is a counted warning; a row with no valid hash a counted skip (see ``ReadReport``); neither
  ends the read. Hash kinds that cannot be matched (sha512, photodna) are counted in ``unmatchable``.
* A PDQ's quality is unknown unless the file has a ``quality`` (or ``pdq_quality``) column: then PDQs below
  ``MIN_PDQ_QUALITY`` are skipped and counted, as they are for a case's files.
* Reading streams: one row at a time, whatever the file's size.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.matching.formats._text import column_name
from cairn.matching.formats.base import ReadOptions, ReadReport
from cairn.matching.formats.csv_plain import CSV
from cairn.matching.match import EXACT_KINDS, MIN_PDQ_QUALITY, Query, QueryCounts, pdq_quality_ok

#: Hash kinds a query may be matched on.
QUERY_KINDS = (*EXACT_KINDS, "pdq")
_QUALITY_COLUMNS = frozenset({"quality", "pdq_quality", "pdq quality"})


@dataclass
class QueryReport:
    """What reading a queries file found: the format reader's report and the queries' counts."""

    read: ReadReport = field(default_factory=ReadReport)
    counts: QueryCounts = field(default_factory=QueryCounts)
    unmatchable: int = 0


def read_queries(path: Path, report: QueryReport, min_quality: int = MIN_PDQ_QUALITY) -> Iterator[Query]:
    """The queries of the CSV at ``path`` in file order (``WrongFormat`` when it has no hash column)."""
    for record in CSV.read(path, ReadOptions(), report.read):
        quality = _quality(record.extra, record.position, report.read)
        for kind, value in record.hashes.items():
            if kind not in QUERY_KINDS:
                report.unmatchable += 1
                continue
            if kind == "pdq" and not pdq_quality_ok(quality, min_quality, report.counts, unknown_ok=True):
                continue
            report.counts.queries += 1
            yield Query(record.position, kind, value)


def count_lines(path: Path, block: int = 1 << 20) -> int:
    """How many lines ``path`` has (for a progress bar; a last line without a newline counts)."""
    lines = 0
    last = b"\n"
    with path.open("rb") as stream:
        while data := stream.read(block):
            lines += data.count(b"\n")
            last = data[-1:]
    return lines + (last != b"\n")


def _quality(extra: Mapping[str, Any], line: int, report: ReadReport) -> int | None:
    for header, value in extra.items():
        if column_name(header) in _QUALITY_COLUMNS:
            try:
                return int(str(value).strip())
            except ValueError:
                report.warn(line, f"{header}: {value!r} is not a number")
                return None
    return None
