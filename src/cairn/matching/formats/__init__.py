"""Hash-set formats: one module per format, all listed in ``FORMATS`` (the order ``--format auto`` tries).

``detect_format`` sniffs a file's first 64 KiB and name; ``read_hash_set`` streams normalised
``HashRecord``s from a file in a named or detected format, counting what it skipped in a ``ReadReport``.
``WRITERS`` names the formats that can also write (VICS 2.0, plain CSV, ThreatExchange signal lines).
Format names are constants (the CLI's ``--format`` values), checked unique when this package loads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType

from cairn.matching.formats.base import (
    HashRecord,
    HashSetFormat,
    ReadOptions,
    ReadReport,
    WriteReport,
    WrongFormat,
)
from cairn.matching.formats.csv_plain import CSV, PlainCsvFormat
from cairn.matching.formats.hashlist import HASH_LIST
from cairn.matching.formats.icse import ICSE
from cairn.matching.formats.nsrl import NSRL
from cairn.matching.formats.te import TE, ThreatExchangeFormat
from cairn.matching.formats.vics import VICS, VicsFormat

#: Every format, in sniffing order: the specific signatures before the general CSV and list shapes.
FORMATS: tuple[HashSetFormat, ...] = (VICS, NSRL, ICSE, TE, CSV, HASH_LIST)
#: Formats that write: name -> the format object (each has a ``write(records, out, ...)``).
WRITERS: Mapping[str, VicsFormat | PlainCsvFormat | ThreatExchangeFormat] = MappingProxyType(
    {VICS.name: VICS, CSV.name: CSV, TE.name: TE}
)
SNIFF_BYTES = 65536


def _by_name(formats: tuple[HashSetFormat, ...]) -> Mapping[str, HashSetFormat]:
    names = [f.name for f in formats]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RuntimeError(f"hash-set format names registered twice: {duplicates}")
    return MappingProxyType({f.name: f for f in formats})


FORMATS_BY_NAME = _by_name(FORMATS)


class UnknownFormat(ValueError):
    """No format recognises the file, or no format has the name asked for."""


def get_format(name: str) -> HashSetFormat:
    """The format called ``name``; ``UnknownFormat`` naming the known ones otherwise."""
    try:
        return FORMATS_BY_NAME[name]
    except KeyError:
        raise UnknownFormat(f"unknown hash-set format {name!r} (known: {', '.join(FORMATS_BY_NAME)})") from None


def detect_format(path: Path) -> HashSetFormat:
    """The first format in ``FORMATS`` whose sniff accepts the file's head and name."""
    with path.open("rb") as stream:
        head = stream.read(SNIFF_BYTES)
    for candidate in FORMATS:
        if candidate.sniff(head, path.name):
            return candidate
    raise UnknownFormat(f"{path.name}: not a hash-set format cairn knows ({', '.join(FORMATS_BY_NAME)})")


def read_hash_set(
    path: Path,
    format_name: str = "auto",
    options: ReadOptions | None = None,
    report: ReadReport | None = None,
) -> Iterator[HashRecord]:
    """Stream the records of ``path`` (``format_name`` or ``auto``); counts and warnings go to ``report``."""
    chosen = detect_format(path) if format_name == "auto" else get_format(format_name)
    found = report if report is not None else ReadReport()
    found.details.setdefault("format", chosen.name)
    return chosen.read(path, options or ReadOptions(), found)


__all__ = [
    "FORMATS",
    "FORMATS_BY_NAME",
    "WRITERS",
    "HashRecord",
    "ReadOptions",
    "ReadReport",
    "UnknownFormat",
    "WriteReport",
    "WrongFormat",
    "detect_format",
    "get_format",
    "read_hash_set",
]
