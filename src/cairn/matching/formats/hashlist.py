"""Plain hash lists: one MD5, SHA-1, SHA-256 or SHA-512 per line (``md5sum`` style ``HASH  NAME`` lines too).

Each line's kind comes from its hex length (64 is SHA-256 unless ``hash_kind="pdq"``; ``hash_kind`` forces
one kind for every line). Empty lines and ``#`` comments are ignored; a file name after the hash is kept in
``extra["FileName"]``. Known-harmless by default: records are ``ignorable`` unless the options say
otherwise (import a list of known material with ``ignorable=False``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cairn.matching.formats._text import first_line
from cairn.matching.formats.base import (
    HashRecord,
    ReadOptions,
    ReadReport,
    collect_hashes,
    finish_record,
    kind_for_length,
)

_LINE = re.compile(r"([0-9A-Fa-f]+)(?:\s+\*?(.*))?\Z")


class HashListFormat:
    """One hash per line."""

    name = "list"
    default_scheme = "none"

    def sniff(self, head: bytes, filename: str) -> bool:
        line = first_line(head)
        while line.startswith("#"):
            head = head.split(b"\n", 1)[1] if b"\n" in head else b""
            line = first_line(head)
        found = _LINE.match(line)
        return found is not None and kind_for_length(len(found.group(1))) is not None

    def read(self, path: Path, options: ReadOptions, report: ReadReport) -> Iterator[HashRecord]:
        ignorable = True if options.ignorable is None else options.ignorable
        with path.open("r", encoding="utf-8-sig", errors="replace") as stream:
            for number, text in enumerate(stream, start=1):
                record = _record(text.strip(), number, options, ignorable, report)
                if record is not None:
                    yield record


def _record(text: str, number: int, options: ReadOptions, ignorable: bool, report: ReadReport) -> HashRecord | None:
    if not text or text.startswith("#"):
        return None
    found = _LINE.match(text)
    if found is None:
        report.skip(number, "not a hexadecimal hash")
        return None
    value, name = found.group(1), found.group(2)
    kind = options.hash_kind or kind_for_length(len(value), False)
    if kind is None:
        report.skip(number, f"a {len(value)}-digit value is no known hash length")
        return None
    extra: dict[str, Any] = {"FileName": name} if name else {}
    return finish_record(
        report, number, collect_hashes({kind: value}, number, report), extra=extra, ignorable=ignorable
    )


HASH_LIST = HashListFormat()
