"""A small WebP thumbnail for the review app, made from the one decode (stored colour; blurred at view)."""

from __future__ import annotations

import io

from PIL import Image

from cairn.model import FileResult
from cairn.settings import ScanSettings
from cairn.signals.base import DecodedImage

WEBP_QUALITY = 70
#: A box-reduced thumbnail up to this much over the requested size is kept as it is (about 256 px).
SIZE_TOLERANCE = 1.1


def make_thumbnail(decoded: DecodedImage, size: int) -> bytes:
    """WebP bytes of the picture fitted in about ``size`` x ``size`` (up to 10% over), aspect kept, never enlarged."""
    im = decoded.image
    if im.mode not in ("RGB", "L"):
        im = Image.fromarray(decoded.rgb)
    width, height = im.size
    factor = max(width, height) / size
    if factor > 1:
        reduce_by = int(factor)  # box-reduce by the whole factor cheaply ...
        if reduce_by > 1:
            im = im.reduce(reduce_by)
        if max(im.size) > size * SIZE_TOLERANCE:  # ... and resample only when that is not close enough
            target = (max(1, round(width / factor)), max(1, round(height / factor)))
            im = im.resize(target, Image.Resampling.BILINEAR)
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
