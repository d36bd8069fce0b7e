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
    HEX_DIGITS,
    HEX_LENGTHS,
    CategoryMemo,
    HashRecord,
    ReadOptions,
    ReadReport,
    SchemeError,
    WriteReport,
    WrongFormat,
    category_or_extra,
    clean_hash,
    collect_hashes,
    finish_record,
    flag_or_extra,
    kind_for_length,
    make_record,
    parse_flag,
)
from cairn.matching.schemes import NONE

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
        fast: _FastRows | None = None
        for number, row in rows(path, delimiter, report):
            if columns is None:
                columns = [(header, column_name(header)) for header in _columns(row, options)]
                fast = _FastRows(columns, options, report, self.default_scheme)
                if any(c in HASH_COLUMNS for c in (column_name(x) for x in row)):
                    continue
            record = fast.record(row, number) if fast is not None else None
            if record is None:  # not a plain row: the general reading (warnings, skips, odd values)
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


#: What the fast reading does with a column (see ``_FastRows``).
_EXTRA, _HASH, _CATEGORY, _TEXT, _FLAG = range(5)


class _FastRows:
    """The reading of plain rows with each column's role worked out once (the header is fixed for the file).

    ``record`` gives exactly what :func:`_record` gives for a row with one cell per column whose every value
    reads cleanly (valid or empty hashes, yes/no flags, a category the scheme knows), and None for any other,
    which the caller then reads the general way: every warning and skip comes from one place.
    """

    def __init__(
        self, columns: list[tuple[str, str]], options: ReadOptions, report: ReadReport, default_scheme: str
    ) -> None:
        self.report = report
        self.width = len(columns)
        self.no_scheme = (options.scheme or default_scheme) == NONE.name and options.code_table is None
        self.ignorable = bool(options.ignorable)
        self.categories = CategoryMemo(options, default_scheme)
        self.plan: list[tuple[int, int, str, str]] | None = []
        roles: set[str] = set()
        for index, (header, name) in enumerate(columns):
            if name in HASH_COLUMNS:
                step = (index, _HASH, HASH_COLUMNS[name], header)
            elif name == "category":
                step = (index, _CATEGORY, name, header)
            elif name in _ROLE_NAMES:
                step = (index, _TEXT, _ROLE_NAMES[name], header)
            elif name in FLAG_COLUMNS:
                step = (index, _FLAG, name, header)
            else:
                self.plan.append((index, _EXTRA, name, header))
                continue
            if step[2] in roles:  # two columns for one hash kind or field: only the general reading resolves it
                self.plan = None
                return
            roles.add(step[2])
            self.plan.append(step)

    def record(self, row: list[str], line: int) -> HashRecord | None:
        plan = self.plan
        if plan is None or len(row) != self.width:
            return None
        hashes: dict[str, str] = {}
        flags: dict[str, bool] = {}
        extra: dict[str, Any] = {}
        found = series = comments = None
        for index, action, name, header in plan:
            cell = row[index]
            if action == _HASH:
                if len(cell) == HEX_LENGTHS[name] and not cell.strip(HEX_DIGITS):
                    hashes[name] = cell  # already normalised: the common case
                elif cell and not cell.isspace():
                    digest = clean_hash(name, cell.strip())
                    if digest is None:
                        return None
                    hashes[name] = digest
                continue
            value = cell.strip()
            if action == _EXTRA:
                if value:
                    extra[header] = value
            elif action == _CATEGORY:
                if not value:
                    continue
                if self.no_scheme:
                    extra[header] = value
                    continue
                try:
                    found = self.categories.read(value)
                except SchemeError:
                    return None
            elif action == _TEXT:
                if name == "series":
                    series = value or None
                else:
                    comments = value or None
            else:  # _FLAG
                try:
                    parsed = parse_flag(value)
                except ValueError:
                    return None
                if parsed is not None:
                    flags[name] = parsed
        if not hashes:
            return None
        self.report.records += 1
        return make_record(hashes, found, series, flags, comments, self.ignorable, extra, line)


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
