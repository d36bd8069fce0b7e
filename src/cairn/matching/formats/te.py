"""ThreatExchange / HMA signal files, as python-threatexchange (1.2) reads and writes them.

Two shapes, both plain text:

* Signal lines ``<signal_type> <signal_str>``: what ``threatexchange hash`` prints (``pdq 3f...``) and what
  the TE CLI's local-file collaboration (``threatexchange.exchanges.impl.file_api``,
  ``LocalFileSignalExchangeAPI``) reads and appends to, and so what ``threatexchange match`` matches against;
  also as ``threatexchange dataset -P`` prints them, followed by ``'<collab>' <CATEGORY> [tags]``.
* ``threatexchange dataset -P --csv``: a CSV with header ``signal_type,signal_str,collab,category,tags``.

Signal types read: ``pdq``; ``video_md5`` (TE's MD5 of the file's bytes) and ``md5``; ``video_sha256`` and
``sha256``. Other signal types (``url``, ``raw_text``, ...) are counted skips. TE's ``category`` is an
opinion (``POSITIVE_CLASS`` ...), not a category scheme, so it is kept in ``extra`` as ``te_category``, with
``te_collab`` and ``te_tags``. The writer writes signal lines (``pdq`` and ``video_md5``, TE's names).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from cairn.matching.formats._text import column_name, first_line, rows
from cairn.matching.formats.base import (
    HashRecord,
    ReadOptions,
    ReadReport,
    WriteReport,
    WrongFormat,
    collect_hashes,
    finish_record,
)

SIGNAL_KINDS = {"pdq": "pdq", "video_md5": "md5", "md5": "md5", "video_sha256": "sha256", "sha256": "sha256"}
#: The name TE gives each kind when cairn writes it.
TE_NAMES = {"pdq": "pdq", "md5": "video_md5", "sha256": "video_sha256"}
CSV_HEADER = ("signal_type", "signal_str", "collab", "category", "tags")
_LINE = re.compile(r"([a-z][a-z0-9_]*)\s+(\S+)(?:\s+(.*?))?\s*\Z")
#: ``threatexchange dataset -P`` after the signal: ``'<collab>' <CATEGORY> [tag,tag]`` (the collab as Python's
#: ``repr`` writes it; absent when one collab was asked for).
_OPINION = re.compile(r"""(?:('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s+)?([A-Z][A-Z0-9_]*)(?:\s+(\S.*))?\Z""")


class ThreatExchangeFormat:
    """python-threatexchange signal lines and ``dataset --csv`` output."""

    name = "te"
    default_scheme = "none"

    def sniff(self, head: bytes, filename: str) -> bool:
        line = first_line(head)
        if [column_name(c) for c in line.split(",")][:2] == ["signal_type", "signal_str"]:
            return True
        # Signal lines: every line a ``<type> <signal>`` pair, and one of them a hash type (``dataset -P`` may
        # open with text signals such as ``raw_text``).
        lines = [t for t in head.decode("utf-8", "replace").splitlines()[:-1] if t.strip()] or [line]
        found = [_LINE.match(t.strip()) for t in lines[:200]]
        return all(found) and any(m.group(1) in SIGNAL_KINDS for m in found if m)

    def read(self, path: Path, options: ReadOptions, report: ReadReport) -> Iterator[HashRecord]:
        with path.open("rb") as stream:
            line = first_line(stream.read(65536))
        if [column_name(c) for c in line.split(",")][:2] == ["signal_type", "signal_str"]:
            yield from _read_csv(path, options, report)
        else:
            yield from _read_lines(path, options, report)

    def write(self, records: Iterable[HashRecord], out: TextIO) -> WriteReport:
        """One ``<signal_type> <hash>`` line per PDQ/MD5/SHA-256 a record holds."""
        report = WriteReport()
        for record in records:
            lines = [f"{TE_NAMES[k]} {v}\n" for k, v in record.hashes.items() if k in TE_NAMES]
            out.writelines(lines)
            report.written += 1 if lines else 0
            report.skipped += 0 if lines else 1
        return report


def _signal(signal_type: str, signal: str, line: int, report: ReadReport) -> dict[str, str] | None:
    kind = SIGNAL_KINDS.get(signal_type.strip().lower())
    if kind is None:
        report.skip(line, f"signal type {signal_type!r} is not a hash cairn matches")
        return None
    return collect_hashes({kind: signal}, line, report)


def _read_lines(path: Path, options: ReadOptions, report: ReadReport) -> Iterator[HashRecord]:
    with path.open("r", encoding="utf-8-sig", errors="replace") as stream:
        for number, text in enumerate(stream, start=1):
            stripped = text.strip()
            if not stripped or stripped.startswith("#"):
                continue
            found = _LINE.match(stripped)
            signal_type, signal, rest = found.groups() if found else (*stripped.partition(" ")[::2], None)
            hashes = _signal(signal_type, signal or "", number, report)
            if hashes is None:
                continue
            extra = _opinion(rest, number, report) if rest else {}
            record = finish_record(report, number, hashes, extra=extra, ignorable=bool(options.ignorable))
            if record is not None:
                yield record


def _opinion(rest: str, line: int, report: ReadReport) -> dict[str, Any]:
    """``te_collab``, ``te_category``, ``te_tags`` from what ``threatexchange dataset -P`` prints after a signal
    (tags as ``dataset --csv`` writes them, space-separated); text of another shape is kept whole, with a warning."""
    found = _OPINION.match(rest)
    if found is None:
        report.warn(line, f"text after the signal is not a collab and category: {rest[:80]!r}")
        return {"te_rest": rest}
    collab, category, tags = found.groups()
    extra: dict[str, Any] = {}
    if collab is not None:
        try:
            extra["te_collab"] = str(ast.literal_eval(collab))
        except (ValueError, SyntaxError):
            extra["te_collab"] = collab[1:-1]
    extra["te_category"] = category
    if tags:
        extra["te_tags"] = " ".join(t for t in tags.split(",") if t)
    return extra


def _read_csv(path: Path, options: ReadOptions, report: ReadReport) -> Iterator[HashRecord]:
    columns: list[str] | None = None
    for number, row in rows(path, ",", report):
        if columns is None:
            columns = [column_name(c) for c in row]
            if columns[:2] != ["signal_type", "signal_str"]:
                raise WrongFormat("not a threatexchange dataset CSV")
            continue
        cells = dict(zip(columns, row, strict=False))
        hashes = _signal(cells.get("signal_type", ""), cells.get("signal_str", ""), number, report)
        if hashes is None:
            continue
        extra: dict[str, Any] = {f"te_{k}": v for k, v in cells.items() if k not in CSV_HEADER[:2] and v}
        record = finish_record(report, number, hashes, extra=extra, ignorable=bool(options.ignorable))
        if record is not None:
            yield record


TE = ThreatExchangeFormat()
