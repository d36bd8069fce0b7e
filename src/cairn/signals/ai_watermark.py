"""Invisible watermarks of Stable Diffusion and InvokeAI pictures (``invisible-watermark``'s dwtDct), read from
the one decode (issue 12). See :mod:`cairn.signals.provenance.watermark` for the algorithm and the scoring.

Cost policy (``ScanSettings.watermarks``, ``cairn scan --watermarks``, recorded with the run):

* ``auto`` (default): a picture is checked when it carries a generation record (metadata or pixel copy), or
  when its size is one generators produce: both sides multiples of 64, the longer at most 2048 pixels (SD 1.x
  512-768, SDXL's 1024-pixel buckets, their 1.5x/2x hires-fix outputs up to 2048). A mark survives only at the
  size it was written at, so pictures of other sizes (camera photos, resized copies) rarely hold a readable
  one; checking every picture would cost a decode's worth of time again on each.
  Of those size-only candidates, pictures whose chroma was subsampled are left out: the mark lives in the
  full-resolution U channel, and JPEG 4:2:0/4:2:2 or lossy WebP (always 4:2:0) average it away (measured on
  SDXL marks: 48 of 48 bits become 18-29, a "none", even at JPEG quality 100; 4:4:4 JPEG keeps all 48 even
  at quality 95, and is checked).
* ``all``: every colour picture of at least 256x256 pixels.
* ``off``: none.

A picture that carries a generation record (or any picture under ``all``) but cannot hold a mark (under
256x256, grey, decoded at reduced scale) gets a ``watermark_skipped`` note; a picture due for its size alone is
skipped silently. Stored: a ``Finding(signal="ai_watermark", kind="watermark", data={scheme,
matched_bits, total_bits, verdict, p_false_positive, channel_order, decoded_text?, vote_clarity, note},
where="pixels: ...")`` only for a verdict of "likely" or "very likely": a "partial" match happens by chance on
many unmarked pictures (two channel orders and three messages tried), and a clean picture stores nothing, which
keeps the database small. Absence proves nothing: most generators add no mark, and re-encoding, resizing or
cropping removes it.
"""

from __future__ import annotations

from PIL import JpegImagePlugin

from cairn import errors
from cairn.model import FileResult, Finding
from cairn.settings import ScanSettings
from cairn.signals.ai_generation import RECORD_KIND
from cairn.signals.base import DecodedImage
from cairn.signals.provenance.watermark import STORED_VERDICTS, check_size, decode

NAME = "ai_watermark"
KIND = "watermark"
POLICIES = ("auto", "all", "off")
#: ``auto``'s generator sizes: both sides multiples of this, the longer side at most MAX_GENERATOR_SIDE.
GENERATOR_STEP = 64
MAX_GENERATOR_SIDE = 2048


def generator_size(width: int, height: int) -> bool:
    """Whether ``auto`` checks a picture of this size without a generation record."""
    return (
        width % GENERATOR_STEP == 0
        and height % GENERATOR_STEP == 0
        and 0 < width <= MAX_GENERATOR_SIDE
        and 0 < height <= MAX_GENERATOR_SIDE
    )


def due(policy: str, width: int, height: int, has_record: bool, full_chroma: bool = True) -> bool:
    """Whether the policy checks this picture (``full_chroma``: its colour was not subsampled, see
    :func:`full_chroma`)."""
    if policy == "off":
        return False
    if policy == "all":
        return True
    if policy != "auto":
        raise ValueError(f"unknown watermark policy {policy!r}; one of {', '.join(POLICIES)}")
    return has_record or (generator_size(width, height) and full_chroma)


def full_chroma(decoded: DecodedImage) -> bool:
    """False for a picture stored with subsampled chroma (JPEG 4:2:0 or 4:2:2, lossy WebP), where no dwtDct
    mark survives; True otherwise (lossless formats, 4:4:4 JPEG, anything not known to be subsampled)."""
    fmt = decoded.image.format
    if fmt == "JPEG":
        return bool(JpegImagePlugin.get_sampling(decoded.image) in (0, -1))  # -1: not known (grey, CMYK)
    if fmt == "WEBP":
        return _webp_lossless(decoded.data)
    return True


def _webp_lossless(data: bytes) -> bool:
    """Whether a WebP's image data is lossless (a ``VP8L`` chunk before any ``VP8 `` one)."""
    pos, end = 12, min(len(data), 1 << 20)
    for _ in range(32):
        if pos + 8 > end:
            break
        kind = data[pos : pos + 4]
        if kind == b"VP8L":
            return True
        if kind == b"VP8 ":
            return False
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        pos += 8 + size + (size & 1)
    return True  # not found: not known to be lossy


class AiWatermarkSignal:
    """Stores watermark findings ("likely" or "very likely") for the pictures the policy checks."""

    name = NAME
    order = 70  # after the record signals (ai_generation 60, ai_stealth 61): auto checks pictures with records

    def apply(self, decoded: DecodedImage, result: FileResult, settings: ScanSettings) -> None:
        policy = getattr(settings, "watermarks", "auto")
        width, height = decoded.image.size
        has_record = any(f.kind == RECORD_KIND for f in result.findings)
        if not due(policy, width, height, has_record, has_record or full_chroma(decoded)):
            return
        reason = check_size(width, height)
        if reason is None and decoded.draft_scale < 1.0:
            reason = "decoded at reduced scale, which a mark does not survive"
        if reason is None and decoded.rgb.ndim != 3:
            reason = "a grey picture has no colour channel to carry a mark"
        if reason is not None:
            if policy == "all" or has_record:  # a size-only candidate that cannot be read is no news
                result.errors.append(errors.item_note(errors.WATERMARK_SKIPPED, f"watermark not checked: {reason}"))
            return
        for score in decode(decoded.rgb):
            if score.verdict in STORED_VERDICTS:
                result.findings.append(Finding(NAME, KIND, score.as_dict(), score.where))


SIGNALS = [AiWatermarkSignal()]
