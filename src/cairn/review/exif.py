"""A short, readable summary of a stored raw EXIF block for the file detail page.

Bounded: a block over :data:`MAX_BYTES` is not parsed, at most :data:`MAX_TAGS` tags are listed, each value
cut to :data:`MAX_VALUE` characters; binary values show their length only. A block Pillow cannot read gives
an ``error`` instead of tags, never an exception.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from PIL import ExifTags, Image

MAX_BYTES = 256 * 1024
MAX_TAGS = 80
MAX_VALUE = 200
_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825


@dataclass
class ExifSummary:
    """Tags as (name, value text): IFD0, the Exif sub-IFD, then GPS, each by tag number; ``error`` when the block
    was not read."""

    tags: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None
    truncated: bool = False


def _text(value: object) -> str:
    if isinstance(value, bytes):
        printable = value.rstrip(b"\x00")
        if printable and all(32 <= b < 127 for b in printable[:MAX_VALUE]):
            text = printable.decode("ascii", "replace")
        else:
            return f"({len(value)} bytes)"
    elif isinstance(value, tuple):
        text = ", ".join(_text(v) for v in value[:16]) + (", ..." if len(value) > 16 else "")
    else:
        text = str(value)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE] + "..."


def exif_summary(raw: bytes | None) -> ExifSummary | None:
    """The summary of ``raw`` (an EXIF block as stored), or None when there is none."""
    if not raw:
        return None
    if len(raw) > MAX_BYTES:
        return ExifSummary(error=f"EXIF block of {len(raw):,} bytes not summarised (over {MAX_BYTES:,})")
    out = ExifSummary()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns of damaged blocks and reads on: the page shows what it read
            exif = Image.Exif()
            exif.load(raw)
            sections = [(dict(exif), ExifTags.TAGS)]
            sections.append((dict(exif.get_ifd(_EXIF_IFD)), ExifTags.TAGS))
            sections.append((dict(exif.get_ifd(_GPS_IFD)), ExifTags.GPSTAGS))
    except Exception as exc:  # Pillow raises many types on damaged TIFF structures; the page shows why
        return ExifSummary(error=f"EXIF block unreadable ({type(exc).__name__})")
    for tags, names in sections:
        for tag, value in sorted(tags.items(), key=lambda kv: kv[0]):
            if tag in (_EXIF_IFD, _GPS_IFD):
                continue
            if len(out.tags) >= MAX_TAGS:
                out.truncated = True
                return out
            prefix = "GPS " if names is ExifTags.GPSTAGS else ""
            out.tags.append((prefix + str(names.get(tag, f"tag 0x{tag:04x}")), _text(value)))
    return out
