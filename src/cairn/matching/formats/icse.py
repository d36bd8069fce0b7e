"""Interpol ICSE CSV: ``;``-separated, header ``MD5;SHA1;PhotoDNA;Image ID;Is distributed;...;Baseline``.

Columns are matched case-insensitively, in any order; hash columns (MD5, SHA1, PhotoDNA) become hashes,
the yes/no columns (Is distributed, Victim identified, Offender identified, File Available, Baseline)
become flags (y/yes/t/true, n/no/f/false), Series name the series; every other column (Image ID, Number of
submissions, Media Type, and any column ICSE adds) is kept in ``extra`` under its header, uninterpreted.
ICSE carries no category scheme: records are uncategorised.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cairn.matching.formats._text import column_name, first_line, rows
from cairn.matching.formats.base import (
    HashRecord,
    ReadOptions,
    ReadReport,
    WrongFormat,
    collect_hashes,
    finish_record,
    flag_or_extra,
)

HASH_COLUMNS = {"md5": "md5", "sha1": "sha1", "sha-1": "sha1", "photodna": "photodna"}
FLAG_COLUMNS = {
    "is distributed": "is_distributed",
    "victim identified": "victim_identified",
    "offender identified": "offender_identified",
    "file available": "file_available",
    "baseline": "baseline",
}
_MARKERS = frozenset({"photodna", "image id", "series name", "victim identified", "baseline", "is distributed"})


class IcseFormat:
    """Interpol ICSE CSV export."""

    name = "icse"
    default_scheme = "none"

    def sniff(self, head: bytes, filename: str) -> bool:
        line = first_line(head)
        names = {column_name(cell) for cell in line.split(";")}
        return ";" in line and "md5" in names and bool(names & _MARKERS)

    def read(self, path: Path, options: ReadOptions, report: ReadReport) -> Iterator[HashRecord]:
        columns: list[tuple[str, str]] | None = None
        for line, row in rows(path, ";", report):
            if columns is None:
                columns = [(header.strip(), column_name(header)) for header in row]
                if not {"md5", "sha1"} & {name for _header, name in columns}:
                    raise WrongFormat("no MD5 or SHA1 column in the ICSE header")
                continue
            record = _record(columns, row, line, options, report)
            if record is not None:
                yield record


def _record(
    columns: list[tuple[str, str]], row: list[str], line: int, options: ReadOptions, report: ReadReport
) -> HashRecord | None:
    """The record of ``row``; ``columns``: each header stripped and as :func:`column_name` matches it."""
    raw_hashes: dict[str, object] = {}
    flags: dict[str, bool] = {}
    extra: dict[str, Any] = {}
    series: str | None = None
    for (header, name), cell in zip(columns, row, strict=False):
        value = cell.strip()
        if name in HASH_COLUMNS:
            raw_hashes[HASH_COLUMNS[name]] = value
        elif name in FLAG_COLUMNS:
            flag_or_extra(header, value, FLAG_COLUMNS[name], flags, extra, line, report)
        elif name == "series name":
            series = value or None
        elif value:
            extra[header] = value
    hashes = collect_hashes(raw_hashes, line, report)
    return finish_record(
        report, line, hashes, series=series, flags=flags, extra=extra, ignorable=bool(options.ignorable)
    )


ICSE = IcseFormat()
