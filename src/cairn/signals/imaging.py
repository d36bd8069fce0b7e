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
from cairn.signals import filetype
from cairn.signals.base import DecodedImage
from cairn.signals.pixel_memory import configure_pillow_memory
from cairn.signals.pixels import to_rgb

#: cairn enforces its own pixel limit (``Limits.max_image_pixels``) before any pixel is decoded.
Image.MAX_IMAGE_PIXELS = None
configure_pillow_memory()

#: Short side below which --fast-pdq never reduces a JPEG (Meta's tool hashes at 512x512).
FAST_PDQ_MIN_SIDE = 512
#: Short side --fast-pdq keeps when the picture is large enough: a quarter-scale decode of a 4000x3000
#: photo drifts up to ~12 bits from the reference, a half-scale one ~2 (docs/benchmarks.md).
FAST_PDQ_TARGET_SIDE = 1024

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


def _exif(im: Image.Image, loaded: bool) -> tuple[bytes | None, int | None]:
    """(raw EXIF block, orientation); never raises: damaged metadata must not cost the picture.

    With ``loaded`` False the pixels are never decoded here (PNG's ``getexif`` would decode them to find
    an eXIf chunk after the image data): only EXIF already read with the header is used.
    """
    raw = im.info.get("exif")
    raw = raw if isinstance(raw, bytes) else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if loaded or im.format != "PNG":
                exif = im.getexif()
            else:
                exif = Image.Exif()
                if raw is not None:
                    exif.load(raw)
            orientation = exif.get(_ORIENTATION_TAG)
        except Exception:
            return raw, None
        if raw is None and len(exif):
            try:
                raw = exif.tobytes()  # TIFF: the IFD re-serialised; fails on some damaged tags
            except Exception:
                raw = None
    return raw, (int(orientation) if isinstance(orientation, int) else None)


def fast_pdq_scale(width: int, height: int) -> int:
    """The DCT-domain reduction (1, 2, 4 or 8) --fast-pdq asks for: the largest keeping the short side at
    ``FAST_PDQ_TARGET_SIDE`` where the picture allows it, else the largest keeping ``FAST_PDQ_MIN_SIDE``."""
    short = min(width, height)
    for floor in (FAST_PDQ_TARGET_SIDE, FAST_PDQ_MIN_SIDE):
        scale = 1
        while scale < 8 and short // (scale * 2) >= floor:
            scale *= 2
        if scale > 1:
            return scale
    return 1


def _draft_for_fast_pdq(im: Image.Image) -> float:
    """Ask the JPEG decoder for the --fast-pdq reduction; return the scale it gave."""
    width, height = im.size
    scale = fast_pdq_scale(width, height)
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
        ftype = filetype.sniff(data[:64])
        if ftype is filetype.HEIC:
            out.errors.append(
                errors.item_error(
                    errors.IMAGE_UNSUPPORTED,
                    "HEIC/HEIF picture: no HEIF decoder is installed here, so it has no pixel signals "
                    "(no PDQ, no thumbnail); digests were kept. Convert it with a HEIF tool and scan the copy.",
                )
            )
            return out
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
    mode, fmt = im.mode, im.format
    frames = _frame_count(im)

    def info(loaded: bool) -> ImageInfo:
        raw_exif, orientation = _exif(im, loaded)
        return ImageInfo(width, height, mode, fmt, frames=frames, orientation=orientation, exif=raw_exif)

    limit = settings.limits.max_image_pixels
    if width * height > limit:
        out.info = info(loaded=False)
        out.errors.append(
            errors.item_error(
                errors.IMAGE_BOMB,
                f"image declares {width}x{height} = {width * height:,} pixels, over the limit of {limit:,}; "
                "not decoded (raise Limits.max_image_pixels to decode it)",
            )
        )
        return out
    try:
        # The first load of the pixels must be this one: a failed earlier load (e.g. inside getexif)
        # leaves Pillow with nothing left to decode, and a second load() then "succeeds" silently.
        im.seek(0)
        scale = _draft_for_fast_pdq(im) if settings.fast_pdq and im.format == "JPEG" else 1.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im.load()
        rgb = to_rgb(im)
    except Exception as exc:
        out.info = info(loaded=False)
        message = str(exc) or type(exc).__name__
        out.errors.append(
            errors.item_error(
                errors.IMAGE_CORRUPT,
                f"image data could not be decoded ({message}); header info kept, no pixel signals",
            )
        )
        return out
    out.info = info(loaded=True)
    out.decoded = DecodedImage(data=data, image=im, rgb=rgb, draft_scale=scale)
    return out
