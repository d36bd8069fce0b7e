"""A small WebP thumbnail for the review app, made from the one decode (stored colour; blurred at view).

The decode's picture is L or RGB-like (see ``cairn.signals.pixels.normalise``). It is box-reduced by
Pillow from its own memory (an RGBA picture is read as RGBX in place: alpha dropped, as for PDQ, and never
premultiplied, which would copy it), so no full-size copy of the pixels is made here.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from cairn.model import FileResult
from cairn.settings import ScanSettings
from cairn.signals.base import DecodedImage
from cairn.signals.pixel_memory import pixel_view

WEBP_QUALITY = 70
#: A box-reduced thumbnail up to this much over the requested size is kept as it is (about 256 px).
SIZE_TOLERANCE = 1.1
#: A picture whose memory cannot be shared is sampled down to this many times THUMBNAIL_FLOOR first.
OVERSAMPLE = 4
THUMBNAIL_FLOOR = 256


def _without_alpha(decoded: DecodedImage) -> Image.Image:
    """The picture as L, RGB or RGBX (alpha ignored), sharing the decode's memory where it can."""
    im = decoded.image
    if im.mode in ("RGB", "L", "RGBX"):
        return im
    view = pixel_view(im) if im.mode == "RGBA" else None
    if view is not None:
        height, width = view.shape[:2]
        return Image.frombuffer("RGBX", (width, height), view, "raw", "RGBX", 0, 1)
    step = max(1, int(max(im.size) / THUMBNAIL_FLOOR) // OVERSAMPLE)  # no shared memory: sample it down first
    return Image.fromarray(np.ascontiguousarray(decoded.rgb[::step, ::step]))


def make_thumbnail(decoded: DecodedImage, size: int) -> bytes:
    """WebP bytes of the picture fitted in about ``size`` x ``size`` (up to 10% over), aspect kept, never enlarged."""
    im = _without_alpha(decoded)
    width, height = im.size
    factor = max(width, height) / size
    if factor > 1:
        reduce_by = int(factor)  # box-reduce by the whole factor cheaply ...
        if reduce_by > 1:
            im = im.reduce(reduce_by)
        if max(im.size) > size * SIZE_TOLERANCE:  # ... and resample only when that is not close enough
            target = (max(1, round(width / factor)), max(1, round(height / factor)))
            im = im.resize(target, Image.Resampling.BILINEAR)
    if im.mode not in ("RGB", "L"):
        im = im.convert("RGB")  # small by now
    buf = io.BytesIO()
    im.save(buf, format="WEBP", quality=WEBP_QUALITY, method=0)
    return buf.getvalue()


class ThumbnailSignal:
    """Stores ``FileResult.thumbnail``."""

    name = "thumbnail"
    order = 50

    def apply(self, decoded: DecodedImage, result: FileResult, settings: ScanSettings) -> None:
        result.thumbnail = make_thumbnail(decoded, settings.thumbnail_size)


SIGNALS = [ThumbnailSignal()]
