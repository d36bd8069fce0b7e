"""Machine-readable listing of a case's files: one row per file, CSV or JSON, stable column order."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

#: The columns ``cairn files`` writes, in order; extra keys a store returns are not exported here.
FILE_COLUMNS = (
    "path",
    "size",
    "type",
    "md5",
    "sha1",
    "sha256",
    "pdq",
    "pdq_quality",
    "width",
    "height",
    "error",
)


def _project(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for row in rows:
        yield {col: row.get(col) for col in FILE_COLUMNS}


def write_csv(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Write rows as CSV (header first, empty cell for None); returns the number of rows."""
    writer = csv.DictWriter(out, fieldnames=FILE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in _project(rows):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
        count += 1
    return count


def write_json(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Write rows as one JSON array, streamed one object per line; returns the number of rows."""
    out.write("[")
    count = 0
    for row in _project(rows):
        out.write("\n" if count == 0 else ",\n")
        out.write(json.dumps(row, ensure_ascii=False, sort_keys=False))
        count += 1
    out.write("\n]\n")
    return count
