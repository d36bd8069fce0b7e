"""Machine-readable listing of a case's files: one row per file, CSV or JSON, stable column order.

Contract (the README's ``cairn files`` section says the same):

* **Times.** ``mtime`` is the stored POSIX seconds as ISO 8601 UTC (``2023-11-14T22:13:20.250000+00:00``).
  Years 10000 to 99999 use ISO 8601's expanded form with a sign (NTFS reaches ``+30828-09-14T02:48:05...``).
  A value no such date can show (beyond those years, before year 1, NaN, infinity) is written as the raw
  seconds in text (``1e+20``, Python's shortest round-trip form) and the row's ``notes`` gain a
  ``time_out_of_range`` note. Whenever set, ``mtime`` is a string, in CSV and in JSON.
* **An export never dies on one row.** Each row is formatted in full before any of it is written; a row
  holding a value the listing cannot show as its type (or text that cannot be written as UTF-8) is still
  written, with every cell as plain text, and an ``unshowable_value`` note saying what went wrong.
* **CSV formula injection.** In CSV (never in JSON) a text cell that begins with ``=``, ``+``, ``-``, ``@``,
  a tab or a carriage return gets a single quote ``'`` in front (OWASP's rule), so a spreadsheet shows it
  as text instead of running it; a cell that is a plain number (``-1e+20``) is left as it is. Names are
  evidence: a suspect chooses them.
* **Matches (JSON only).** When the rows carry ``matches`` (``CaseStore.iter_file_rows(with_matches=True)``),
  each JSON object ends with ``matches``: a list of ``{set, kind, distance, category {scheme, value, label} or
  null, series, flags, ignorable}`` from the case's latest match run (``[]`` for a file with none), then
  ``group``: the file's near-duplicate group number in the case's latest ``cairn groups`` run (null when in no
  group). CSV columns are unchanged.
* **Provenance (JSON only).** When the rows carry ``provenance`` (``iter_file_rows(with_provenance=True)``), each
  JSON object ends with ``provenance``: ``{generation_records, watermarks, c2pa, warnings}``, the file's AI
  provenance findings (see :mod:`cairn.store.provenance`), empty lists for a file with none.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TextIO

from cairn.errors import TIME_OUT_OF_RANGE, UNSHOWABLE_VALUE

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

#: The last year written as a date (ISO 8601 expanded form above 9999); later times are shown raw.
MAX_ISO_YEAR = 99_999

#: A cell beginning with one of these is a formula to a spreadsheet (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_US_PER_DAY = 86_400 * 1_000_000
_SECONDS_BOUND = 3.2e12  # about 100,000 years either side of 1970: beyond it no year can be in range


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """Proleptic Gregorian (year, month, day) of ``days`` after 1970-01-01 (H. Hinnant's algorithm)."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if month <= 2 else 0), month, day


def iso_utc(seconds: float) -> str | None:
    """``seconds`` after the POSIX epoch as ISO 8601 UTC, or None when no year 1..99999 date shows it."""
    if not math.isfinite(seconds) or abs(seconds) > _SECONDS_BOUND:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        pass  # outside datetime's years 1..9999: expanded years below
    total_us = round(Decimal(seconds) * 1_000_000)  # exact, half to even like datetime
    days, in_day = divmod(total_us, _US_PER_DAY)
    year, month, day = _civil_from_days(days)
    if not 10_000 <= year <= MAX_ISO_YEAR:
        return None
    secs, micro = divmod(in_day, 1_000_000)
    hours, rest = divmod(secs, 3600)
    fraction = f".{micro:06d}" if micro else ""
    return f"+{year}-{month:02d}-{day:02d}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}{fraction}+00:00"


def _mtime_cell(value: Any, notes: list[str]) -> str | None:
    """The mtime cell: ISO 8601, or the raw seconds with a ``time_out_of_range`` note added to ``notes``."""
    if value is None:
        return None
    seconds = float(value)
    shown = iso_utc(seconds)
    if shown is not None:
        return shown
    raw = repr(seconds)
    notes.append(
        f"{TIME_OUT_OF_RANGE}: mtime {raw} s after 1970 is no calendar date of years 1 to {MAX_ISO_YEAR}; "
        "the raw POSIX seconds are shown"
    )
    return raw


def _check_cell(column: str, value: Any) -> None:
    """Raise when ``value`` is not something both formats write faithfully."""
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float) and math.isfinite(value):
        return
    raise TypeError(f"column {column} holds {type(value).__name__} {value!r:.80}")


def _project(row: dict[str, Any]) -> dict[str, Any]:
    """The output row of one stored row (may raise: see :func:`_format`)."""
    out = {col: row.get(col) for col in FILE_COLUMNS}
    notes = [str(out["notes"])] if out["notes"] else []
    out["mtime"] = _mtime_cell(out["mtime"], notes)
    out["notes"] = "; ".join(notes) or None
    for col, value in out.items():
        _check_cell(col, value)
    return out


def _project_json(row: dict[str, Any]) -> dict[str, Any]:
    """The JSON object of one stored row: the columns, then ``matches``, ``group``, ``category`` (the review app's
    current one) and ``provenance`` when the row carries them."""
    out = _project(row)
    if "matches" in row:
        out["matches"] = _json_safe(row["matches"])
    if "group" in row:
        out["group"] = _json_safe(row["group"])
    if "category" in row:
        out["category"] = _json_safe(row["category"])
    if "provenance" in row:
        out["provenance"] = _json_safe(row["provenance"])
    return out


def _json_safe(value: Any) -> Any:
    """``value`` (lists, dicts, scalars) with every other thing as plain text, so JSON can write it."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return _plain(value)


def _plain(value: Any) -> Any:
    """``value`` as something every format writes: JSON-safe scalars kept, everything else as text."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    text = value if isinstance(value, str) else repr(value)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _fallback(row: dict[str, Any], problem: Exception) -> dict[str, Any]:
    """Every cell of ``row`` as plain text, with an ``unshowable_value`` note naming ``problem``."""
    out = {col: _plain(row.get(col)) for col in FILE_COLUMNS}
    note = (
        f"{UNSHOWABLE_VALUE}: this row held a value the listing cannot show as its type "
        f"({type(problem).__name__}: {problem}); its cells are shown as plain text"
    )
    out["notes"] = "; ".join(n for n in (out["notes"], _plain(note)) if n)
    return out


def _format(
    row: dict[str, Any],
    encode: Callable[[dict[str, Any]], str],
    project: Callable[[dict[str, Any]], dict[str, Any]] = _project,
) -> str:
    """One row's text, complete before anything is written; a row that cannot be shown is shown plain."""
    try:
        text = encode(project(row))
        text.encode("utf-8")  # lone surrogates and the like fail here, not half-way through a write
        return text
    except Exception as exc:  # any one bad value: the row is still written, the problem in its notes
        return encode(_fallback(row, exc))


def neutralise(cell: str) -> str:
    """A CSV cell a spreadsheet shows as text: ``'`` before a leading ``= + - @ TAB CR`` (not a number)."""
    if cell.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def _csv_encoder() -> Callable[[dict[str, Any]], str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FILE_COLUMNS, lineterminator="\n")

    def encode(row: dict[str, Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        cells = {k: "" if v is None else neutralise(v) if isinstance(v, str) else v for k, v in row.items()}
        writer.writerow(cells)
        return buffer.getvalue()

    return encode


def _json_encode(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=False, allow_nan=False)


def _rows(
    rows: Iterable[dict[str, Any]],
    encode: Callable[[dict[str, Any]], str],
    project: Callable[[dict[str, Any]], dict[str, Any]] = _project,
) -> Iterator[str]:
    for row in rows:
        yield _format(row, encode, project)


def write_csv(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Write rows as CSV (header first, empty cell for None, formula cells neutralised); return the count."""
    out.write(",".join(FILE_COLUMNS) + "\n")
    count = 0
    for text in _rows(rows, _csv_encoder()):
        out.write(text)
        count += 1
    return count


def write_json(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Write rows as one JSON array, streamed one object per line; returns the number of rows."""
    out.write("[")
    count = 0
    for text in _rows(rows, _json_encode, _project_json):
        out.write("\n" if count == 0 else ",\n")
        out.write(text)
        count += 1
    out.write("\n]\n")
    return count
