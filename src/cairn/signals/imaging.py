"""The one decode of an image: open, check limits, read info and EXIF, load pixels once, normalise to RGB.

Every image signal works from the ``DecodedImage`` made here; nothing decodes a picture twice.
EXIF orientation is recorded, never applied: hash lists from other tools hash the stored pixels.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

from PIL import Image, UnidentifiedImageError

from cairn import errors
from cairn.model import ImageInfo, ItemError
from cairn.settings import ScanSettings
from cairn.signals.base import DecodedImage
from cairn.signals.pixel_memory import configure_pillow_memory
from cairn.signals.pixels import to_rgb

#: cairn enforces its own pixel limit (``Limits.max_image_pixels``) before any pixel is decoded.
Image.MAX_IMAGE_PIXELS = None
configure_pillow_memory()

#: Short side below which --fast-pdq never reduces a JPEG (Meta's tool hashes at 512x512).
FAST_PDQ_MIN_SIDE = 512

_ORIENTATION_TAG = 0x0112


@dataclass
class DecodeOutcome:
    """What decoding produced: info when the header was readable, pixels when the decode succeeded."""

    info: ImageInfo | None = None
    decoded: DecodedImage | None = None
    errors: list[ItemError] = field(default_factory=list)


def _frame_count(im: Image.Image) -> int:
    try:
        return int(getattr(im, "n_frames", 1))
    except Exception:  # a damaged later frame must not cost us the first one
        return 1


def _exif(im: Image.Image) -> tuple[bytes | None, int | None]:
    raw = im.info.get("exif")
    try:
        exif = im.getexif()
    except Exception:
        return (raw if isinstance(raw, bytes) else None), None
    orientation = exif.get(_ORIENTATION_TAG)
    if not isinstance(raw, bytes):
        raw = exif.tobytes() if len(exif) else None
    return raw, (int(orientation) if isinstance(orientation, int) else None)


def _draft_for_fast_pdq(im: Image.Image) -> float:
    """Ask the JPEG decoder for a DCT-domain reduction keeping the short side >= 512 px; return the scale."""
    width, height = im.size
    short = min(width, height)
    scale = 1
    while scale < 8 and short // (scale * 2) >= FAST_PDQ_MIN_SIDE:
        scale *= 2
    if scale == 1:
        return 1.0
    request = (-(-width // scale), -(-height // scale))
    im.draft(im.mode if im.mode in ("RGB", "L", "CMYK") else "RGB", request)
    return im.size[0] / width


def decode_image(data: bytes, settings: ScanSettings) -> DecodeOutcome:
    """Decode ``data`` once; never raises for bad input: problems come back as recorded errors."""
    out = DecodeOutcome()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        out.errors.append(
            errors.item_error(
                errors.IMAGE_CORRUPT,
                "the image header is damaged or in a variant no decoder here reads; digests were kept",
            )
        )
        return out
    except Exception as exc:
        out.errors.append(errors.item_error(errors.IMAGE_CORRUPT, f"image header unreadable: {exc}"))
        return out

    width, height = im.size
    raw_exif, orientation = _exif(im)
    out.info = ImageInfo(
        width=width,
        height=height,
        mode=im.mode,
        format=im.format,
        frames=_frame_count(im),
        orientation=orientation,
        exif=raw_exif,
    )
    limit = settings.limits.max_image_pixels
    if width * height > limit:
        out.errors.append(
            errors.item_error(
                errors.IMAGE_BOMB,
                f"image declares {width}x{height} = {width * height:,} pixels, over the limit of {limit:,}; "
                "not decoded (raise Limits.max_image_pixels to decode it)",
            )
        )
        return out
    try:
        im.seek(0)
        scale = _draft_for_fast_pdq(im) if settings.fast_pdq and im.format == "JPEG" else 1.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im.load()
        rgb = to_rgb(im)
    except Exception as exc:
        message = str(exc) or type(exc).__name__
        out.errors.append(
            errors.item_error(
                errors.IMAGE_CORRUPT,
                f"image data could not be decoded ({message}); header info kept, no pixel signals",
            )
        )
        return out
    out.decoded = DecodedImage(image=im, rgb=rgb, draft_scale=scale)
    return out
