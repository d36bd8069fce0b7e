"""Plain CSV: any of md5, sha1, sha256, sha512, pdq, photodna columns plus optional category, series, comment.

The header is detected: a first row naming at least one hash column is the header (names matched
case-insensitively; ``sha-1``/``sha-256`` accepted); otherwise the file has none and each column's kind is
taken from the hex length of the first row (32 md5, 40 sha1, 64 sha256, or pdq with ``hash_kind="pdq"``).
The delimiter is ``,``, ``;`` or tab, whichever the first row uses most. Columns named like a flag
(``victim_identified``, ``is_distributed``, ...) are read as yes/no flags; any other column is kept in
``extra``. The category column is read in the set's scheme (default ``none``: kept verbatim in ``extra``).

The writer writes ``md5,sha1,sha256,pdq,category,series,comment`` (the category's value; the scheme is the
set's, stated where the file is imported).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from cairn.matching.formats._text import column_name, delimiter_of, first_line, rows
from cairn.matching.formats.base import (
    HASH_HEX_LENGTHS,
    HashRecord,
    ReadOptions,
    ReadReport,
    WriteReport,
    WrongFormat,
    category_or_extra,
    collect_hashes,
    finish_record,
    flag_or_extra,
    kind_for_length,
)

HASH_COLUMNS = {
    **{kind: kind for kind in HASH_HEX_LENGTHS},
    "sha-1": "sha1",
    "sha-256": "sha256",
    "sha-512": "sha512",
}
FLAG_COLUMNS = frozenset(
    {
        "victim_identified",
        "offender_identified",
        "is_distributed",
        "is_precategorized",
        "is_suspected",
        "self_generated",
        "file_available",
        "baseline",
    }
)
WRITE_COLUMNS = ("md5", "sha1", "sha256", "pdq", "category", "series", "comment")
_ROLE_NAMES = {"category": "category", "series": "series", "comment": "comments", "comments": "comments"}


class PlainCsvFormat:
    """CSV with hash columns, header detected."""

    name = "csv"
    default_scheme = "none"

    def sniff(self, head: bytes, filename: str) -> bool:
        line = first_line(head)
        cells = [column_name(c) for c in line.split(delimiter_of(line))]
        if any(c in HASH_COLUMNS for c in cells):
            return True
        return len(cells) > 1 and any(_hex_kind(c) for c in cells)

    def read(self, path: Path, options: ReadOptions, report: ReadReport) -> Iterator[HashRecord]:
        with path.open("rb") as stream:
            line = first_line(stream.read(65536))
        delimiter = delimiter_of(line)
        columns: list[tuple[str, str]] | None = None
        for number, row in rows(path, delimiter, report):
            if columns is None:
                columns = [(header, column_name(header)) for header in _columns(row, options)]
                if any(c in HASH_COLUMNS for c in (column_name(x) for x in row)):
                    continue
            record = _record(columns, row, number, options, report, self.default_scheme)
            if record is not None:
                yield record

    def write(self, records: Iterable[HashRecord], out: TextIO) -> WriteReport:
        """Write ``records`` as plain CSV (``WRITE_COLUMNS``)."""
        report = WriteReport()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(WRITE_COLUMNS)
        for record in records:
            value = record.category.value if record.category is not None else ""
            row = [record.hashes.get(kind, "") for kind in WRITE_COLUMNS[:4]]
            writer.writerow([*row, value, record.series or "", record.comments or ""])
            report.written += 1
        return report


def _hex_kind(cell: str, pdq: bool = False) -> str | None:
    text = cell.strip().lower()
    if not text or any(ch not in "0123456789abcdef" for ch in text):
        return None
    return kind_for_length(len(text), pdq)


def _columns(first: list[str], options: ReadOptions) -> list[str]:
    """Header names as given, or (no header) a ``kind`` per column from the first row's hex lengths."""
    if any(column_name(c) in HASH_COLUMNS for c in first):
        return first
    kinds = [_hex_kind(c, options.hash_kind == "pdq") or f"column{i + 1}" for i, c in enumerate(first)]
    if not any(k in HASH_COLUMNS for k in kinds):
        raise WrongFormat("no hash column in the CSV header or first row")
    return kinds


def _record(
    columns: list[tuple[str, str]],
    row: list[str],
    line: int,
    options: ReadOptions,
    report: ReadReport,
    default_scheme: str,
) -> HashRecord | None:
    """The record of ``row``; ``columns``: each header as given and as :func:`column_name` matches it."""
    raw: dict[str, object] = {}
    flags: dict[str, bool] = {}
    extra: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    for (header, name), cell in zip(columns, row, strict=False):
        value = cell.strip()
        if name in HASH_COLUMNS:
            raw[HASH_COLUMNS[name]] = value
        elif name == "category":
            fields["category"] = (
                category_or_extra(header, value, options, default_scheme, extra, line, report) if value else None
            )
        elif name in _ROLE_NAMES:
            fields[_ROLE_NAMES[name]] = value or None
        elif name in FLAG_COLUMNS:
            flag_or_extra(header, value, name, flags, extra, line, report)
        elif value:
            extra[header] = value
    hashes = collect_hashes(raw, line, report)
    return finish_record(report, line, hashes, flags=flags, extra=extra, ignorable=bool(options.ignorable), **fields)


CSV = PlainCsvFormat()
