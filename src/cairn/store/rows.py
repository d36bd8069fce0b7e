"""Turn ``FileResult``s into plain row dicts for the case database's tables (no database access here)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from cairn.errors import is_note
from cairn.model import FileResult
from cairn.store.audit import canonical_json


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
        "link_target": meta.link_target,
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
        for i, e in enumerate(result.errors):
            self.errors.append({"file_id": file_id, "ordinal": i, "code": e.code, "message": e.message})
        sha256 = result.hashes.get("sha256")
        if result.thumbnail is not None and sha256 and sha256 not in self.thumbnails:
            width, height = webp_size(result.thumbnail) or (None, None)
            self.thumbnails[sha256] = {
                "sha256": sha256,
                "webp": result.thumbnail,
                "width": width,
                "height": height,
            }


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
