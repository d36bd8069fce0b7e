"""Shared reading of delimited text for the CSV-shaped formats: decoding, delimiter, headers, per-row errors.

Rows come with their 1-based line number; a row the csv module cannot parse is a counted skip, never the
end of the read. Text is decoded as UTF-8 (a BOM is dropped) with undecodable bytes replaced, so one bad
byte costs a character, not the file.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from cairn.matching.formats.base import ReadReport

_BOM = b"\xef\xbb\xbf"
_SPACES = re.compile(r"\s+")
#: A cell may be this long (a PhotoDNA is 288); longer ones are a row error, not a memory cost.
MAX_FIELD = 1 << 20


def first_line(head: bytes) -> str:
    """The first non-empty line of ``head`` as text (BOM dropped)."""
    text = head.removeprefix(_BOM).decode("utf-8", "replace")
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def delimiter_of(line: str, choices: str = ",;\t") -> str:
    """The choice that occurs most often in ``line`` (``,`` when none does)."""
    best = max(choices, key=line.count)
    return best if line.count(best) else ","


def column_name(text: str) -> str:
    """A header cell for matching: stripped, lower-case, inner whitespace as one space, quotes dropped."""
    return _SPACES.sub(" ", text.strip().strip('"').strip()).lower()


def rows(path: Path, delimiter: str, report: ReadReport) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) for every non-empty row of ``path``; unparseable rows are counted skips."""
    csv.field_size_limit(MAX_FIELD)
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as stream:
        reader = csv.reader(stream, delimiter=delimiter)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                report.skip(reader.line_num, f"unreadable CSV row: {exc}")
                continue
            if row and not "".join(row).isspace() and any(row):  # some cell holds more than blanks
                yield reader.line_num, row
