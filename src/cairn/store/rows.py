"""Turn ``FileResult``s into plain row dicts for the case database's tables (no database access here).

Every row goes through one *storable form* (:func:`storable_row`) before any backend sees it, so SQLite and
PostgreSQL store the same value:

- text: NUL (which PostgreSQL refuses and SQLite keeps) and lone surrogates (which neither can encode) become
  ``%XX`` / ``%uXXXX`` escapes (:func:`storable_text`); link targets are escaped like names
  (:func:`cairn.model.storable_name`), since they are names in the evidence. The raw value is not kept in the
  database: it is in the evidence, at the item's logical path.
- ``String(n)`` columns (cairn's own codes and labels) are cut to ``n`` characters (PostgreSQL refuses longer
  text, SQLite would keep it).
- ``Double`` columns take floats: an integer time is converted, NaN is stored as NULL (SQLite would turn it
  into NULL anyway).

Anything the database still refuses is isolated by ``CaseStore.write_results`` and recorded on the item as
``store_failed``.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Double, String, Table

from cairn.errors import is_note
from cairn.model import FileResult, storable_name
from cairn.store.audit import canonical_json


def storable_text(text: str) -> str:
    """``text`` with the code points no backend stores as ``%XX`` escapes; everything else unchanged.

    NUL becomes ``%00``; a surrogate escape of an undecodable byte (U+DC80..U+DCFF, from ``os.fsdecode`` or a
    ``surrogateescape`` decode) becomes ``%XX`` of that byte, like names; any other lone surrogate
    ``%uXXXX``. Messages and labels are prose, so a literal ``%00`` in them is not escaped: for identities
    (paths, names, link targets) the name escaping of :func:`cairn.model.storable_name` applies first.
    """
    if "\x00" not in text:
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:
            pass
    out = []
    for ch in text:
        code = ord(ch)
        if code == 0:
            out.append("%00")
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"%{code - 0xDC00:02X}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append(f"%u{code:04X}")
        else:
            out.append(ch)
    return "".join(out)


def storable_value(value: Any, column_type: Any = None) -> Any:
    """One value in its storable form for a column of ``column_type`` (see the module docstring)."""
    if isinstance(value, str):
        value = storable_text(value)
        length = getattr(column_type, "length", None)
        if isinstance(column_type, String) and length is not None and len(value) > length:
            value = value[:length]
        return value
    if isinstance(column_type, Double) and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            return None
        return None if math.isnan(number) else number
    return value


def storable_row(table: Table, row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` (a dict for ``table``) with every value in its storable form."""
    columns = table.c
    return {key: storable_value(value, columns[key].type if key in columns else None) for key, value in row.items()}


def joined_errors(result: FileResult) -> str | None:
    """The errors (not the notes) as ``"code: message"`` joined by ``"; "``, or None when there are none."""
    return "; ".join(f"{e.code}: {e.message}" for e in result.errors if not is_note(e.code)) or None


def joined_notes(result: FileResult) -> str | None:
    """The notes as ``"code: message"`` joined by ``"; "``, or None when there are none."""
    return "; ".join(f"{e.code}: {e.message}" for e in result.errors if is_note(e.code)) or None


def first_error_code(result: FileResult) -> str | None:
    """The code of the first error that is not a note (the file's ``error_code``), or None."""
    return next((e.code for e in result.errors if not is_note(e.code)), None)


def file_row(case_id: int, evidence_id: int, run_id: int, result: FileResult) -> dict[str, Any]:
    """The ``files`` row of one result."""
    loc, meta = result.locator, result.meta
    parent = loc.parent
    return {
        "case_id": case_id,
        "evidence_id": evidence_id,
        "run_id": run_id,
        "path": loc.path,
        "parent_path": parent.path if parent is not None else None,
        "name": loc.name,
        "depth": loc.depth,
        "is_container": bool(result.is_container),
        "kind": meta.kind,
        "size": meta.size,
        "mtime": meta.mtime,
        "atime": meta.atime,
        "ctime": meta.ctime,
        "mode": meta.mode,
        "link_target": storable_name(meta.link_target) if meta.link_target is not None else None,
        "mime": result.mime,
        "type_label": result.type_label,
        "extension_mismatch": bool(result.extension_mismatch),
        "error_code": first_error_code(result),
        "error": joined_errors(result),
        "notes": joined_notes(result),
        "bytes_read": int(result.bytes_read),
    }


@dataclass
class DetailRows:
    """Rows of the per-file detail tables for a batch, once file ids are known."""

    hashes: list[dict[str, Any]] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    thumbnails: dict[str, dict[str, Any]] = field(default_factory=dict)  # sha256 -> row

    def add(self, file_id: int, result: FileResult) -> None:
        """Append the detail rows of ``result`` stored under ``file_id``."""
        for kind, value in result.hashes.items():
            self.hashes.append(
                {"file_id": file_id, "kind": kind, "value": value, "quality": result.hash_quality.get(kind)}
            )
        img = result.image
        if img is not None:
            self.images.append(
                {
                    "file_id": file_id,
                    "width": img.width,
                    "height": img.height,
                    "mode": img.mode,
                    "format": img.format,
                    "frames": img.frames,
                    "orientation": img.orientation,
                    "exif": img.exif,
                }
            )
        for f in result.findings:
            self.findings.append(
                {
                    "file_id": file_id,
                    "signal": f.signal,
                    "kind": f.kind,
                    "data_json": canonical_json(f.data),
                    "location": f.where,
                }
            )
        self.add_errors(file_id, result)
        sha256 = result.hashes.get("sha256")
        if result.thumbnail is not None and sha256 and sha256 not in self.thumbnails:
            width, height = webp_size(result.thumbnail) or (None, None)
            self.thumbnails[sha256] = {
                "sha256": sha256,
                "webp": result.thumbnail,
                "width": width,
                "height": height,
            }

    def add_errors(self, file_id: int, result: FileResult) -> None:
        """Append only the error (and note) rows of ``result`` stored under ``file_id``."""
        for i, e in enumerate(result.errors):
            self.errors.append({"file_id": file_id, "ordinal": i, "code": e.code, "message": e.message})


def webp_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a WebP header (VP8, VP8L or VP8X), or None if it is not one we can read."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = struct.unpack("<I", data[21:25])[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    return None
