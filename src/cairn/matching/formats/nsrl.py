"""NIST NSRL RDS, known-harmless files: the legacy ``NSRLFile.txt`` CSV and the current RDS SQLite release.

Legacy: a quoted CSV with header ``"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode",
"OpSystemCode","SpecialCode"`` (or the older ``"SHA-1","FileName","FileSize","ProductCode","OpSystemCode",
"MD4","MD5","CRC32","SpecialCode"``; columns are read by name, a ``"SHA-256"`` column too). Current (RDSv3):
an SQLite database, recognised by its schema: the table ``FILE`` or ``METADATA`` (else any table) with
``sha256``/``sha1``/``md5`` columns; it is opened read-only (``mode=ro``, ``immutable=1``: nothing is
written, not even a journal) and rows are streamed by cursor. Hashes are validated and lower-cased; CRC32,
file name, size and product columns are kept in ``extra``. Records are ``ignorable`` (known-harmless)
unless the options say otherwise.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cairn.matching.formats._text import column_name, first_line, rows
from cairn.matching.formats.base import (
    HashRecord,
    ReadOptions,
    ReadReport,
    WrongFormat,
    collect_hashes,
    finish_record,
)

SQLITE_MAGIC = b"SQLite format 3\x00"
LEGACY_HASHES = {"sha-1": "sha1", "md5": "md5", "sha-256": "sha256", "sha1": "sha1", "sha256": "sha256"}
SQL_HASHES = {"sha256": "sha256", "sha1": "sha1", "md5": "md5"}
PREFERRED_TABLES = ("file", "metadata")
_LEGACY_MARKERS = frozenset({"productcode", "opsystemcode", "specialcode"})


class NsrlFormat:
    """NSRL RDS: legacy NSRLFile.txt or the RDSv3 SQLite database."""

    name = "nsrl"
    default_scheme = "none"

    def sniff(self, head: bytes, filename: str) -> bool:
        if head.startswith(SQLITE_MAGIC):
            return True
        cells = {column_name(c) for c in first_line(head).split(",")}
        # Every legacy layout NIST shipped (e.g. "SHA-1","MD5","CRC32","FileName",... and the older
        # "SHA-1","FileName","FileSize","ProductCode","OpSystemCode","MD4","MD5",...) has SHA-1 and its codes.
        return "sha-1" in cells and bool(cells & _LEGACY_MARKERS)

    def read(self, path: Path, options: ReadOptions, report: ReadReport) -> Iterator[HashRecord]:
        ignorable = True if options.ignorable is None else options.ignorable
        with path.open("rb") as stream:
            head = stream.read(65536)
        if head.startswith(SQLITE_MAGIC):
            yield from _read_sqlite(path, ignorable, report)
        else:
            yield from _read_legacy(path, ignorable, report)


def _read_legacy(path: Path, ignorable: bool, report: ReadReport) -> Iterator[HashRecord]:
    columns: list[tuple[str, str | None]] | None = None  # (header, hash kind or None)
    for number, row in rows(path, ",", report):
        if columns is None:
            columns = [(header, LEGACY_HASHES.get(column_name(header))) for header in row]
            if not any(kind for _header, kind in columns):
                raise WrongFormat("no SHA-1/MD5 column in the NSRL header")
            continue
        raw: dict[str, object] = {}
        extra: dict[str, Any] = {}
        for (header, kind), cell in zip(columns, row, strict=False):
            if kind is not None:
                raw[kind] = cell
            else:
                extra[header] = cell
        record = finish_record(report, number, collect_hashes(raw, number, report), extra=extra, ignorable=ignorable)
        if record is not None:
            yield record


def _hash_table(connection: sqlite3.Connection) -> tuple[str, list[str]]:
    """The table holding the file hashes and its columns, chosen by schema."""
    names = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
    ordered = sorted(
        names,
        key=lambda n: (
            n.lower() not in PREFERRED_TABLES,
            PREFERRED_TABLES.index(n.lower()) if n.lower() in PREFERRED_TABLES else 0,
            n,
        ),
    )
    for table in ordered:
        quoted = '"' + table.replace('"', '""') + '"'
        columns = [r[1] for r in connection.execute(f"PRAGMA table_info({quoted})")]
        if any(c.lower() in SQL_HASHES for c in columns):
            return quoted, columns
    raise WrongFormat("no table with sha256/sha1/md5 columns (not an NSRL RDS database)")


def _read_sqlite(path: Path, ignorable: bool, report: ReadReport) -> Iterator[HashRecord]:
    uri = f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1"
    try:
        connection = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise WrongFormat(f"cannot open as SQLite: {exc}") from exc
    try:
        try:
            table, columns = _hash_table(connection)
        except sqlite3.DatabaseError as exc:
            raise WrongFormat(f"not a readable SQLite database: {exc}") from exc
        report.details["nsrl_table"] = table.strip('"')
        cursor = connection.execute(f"SELECT * FROM {table}")  # noqa: S608 - the name comes from the schema
        for number, row in enumerate(cursor, start=1):
            raw: dict[str, object] = {}
            extra: dict[str, Any] = {}
            for name, value in zip(columns, row, strict=False):
                if name.lower() in SQL_HASHES:
                    raw[SQL_HASHES[name.lower()]] = value
                elif value is not None:
                    extra[name] = value
            hashes = collect_hashes(raw, number, report)
            record = finish_record(report, number, hashes, extra=extra, ignorable=ignorable)
            if record is not None:
                yield record
    finally:
        connection.close()


NSRL = NsrlFormat()
