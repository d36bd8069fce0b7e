"""Machine-readable listing of a case's files: one row per file, CSV or JSON, stable column order."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

#: The columns ``cairn files`` writes, in order: the issue's eleven first, then where the file lives.
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
    "extension_mismatch",
    "mtime",
    "evidence",
    "notes",
)


def _mtime_iso(value: Any) -> str | None:
    """POSIX seconds as ISO 8601 UTC (what the evidence said; None when it said nothing)."""
    if value is None:
        return None
    return datetime.fromtimestamp(float(value), tz=UTC).isoformat()


def _project(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for row in rows:
        out = {col: row.get(col) for col in FILE_COLUMNS}
        out["mtime"] = _mtime_iso(out["mtime"])
        yield out


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
