"""Pixel normalisation: any decoded Pillow image to the uint8 array that PDQ (and later signals) hash.

The image pipeline calls :func:`normalise` once per decoded image and passes its pixels to
``cairn.signals.pdq.pdq_from_rgb``. The goal is "the same RGB picture" whatever mode the decoder chose,
so that a CMYK JPEG, a palette PNG or a 16-bit PNG of a picture hash like its 8-bit RGB original, while
plain RGB and L images are passed through untouched (their hashes stay bit-identical to the reference,
``threatexchange``'s ``pdq_from_file``, and therefore to hash lists made with it).

Alpha is dropped, never composited onto a background: that is what the reference does, so hashes of
transparent pictures agree with lists made by HMA. EXIF orientation is not applied here.

Memory: at most one normalised copy of the pixels is made, and only for modes that need one (palette,
CMYK, 16-bit, ...); L, RGB, RGBA and RGBX are viewed in place. Numeric modes are converted tile by tile,
so no wide temporary array is ever made. :func:`normalised_bytes_per_pixel` states the cost, for the
decode memory budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from cairn.signals.pixel_memory import pixel_view

__all__ = ["Normalised", "normalise", "normalised_bytes_per_pixel", "stored_bytes_per_pixel", "to_rgb"]

#: Modes whose first three channels are R, G, B (the rest, alpha or padding, is ignored).
_RGB_LIKE = frozenset({"RGB", "RGBA", "RGBX"})
_SIXTEEN_BIT = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I;16S", "I;16BS", "I;16LS"})
#: Modes turned into grey tile by tile, or by one Pillow band copy (1 byte a pixel).
_TO_GREY = _SIXTEEN_BIT | {"I", "F", "LA", "1"}
#: Pixels per tile when numeric modes are converted (under a MiB of temporaries).
TILE_PIXELS = 1 << 16


@dataclass(frozen=True)
class Normalised:
    """The picture to hash: ``image`` is L or RGB-like (RGB, RGBA, RGBX), ``pixels`` its uint8 array.

    ``pixels`` is ``H x W`` grey or ``H x W x 3`` RGB (possibly a strided read-only view of ``image``'s
    memory); ``image`` is the input itself when no conversion was needed.
    """

    image: Image.Image
    pixels: npt.NDArray[np.uint8]


def stored_bytes_per_pixel(mode: str) -> int:
    """Bytes a pixel of ``mode`` takes in Pillow's memory (3-band images are stored 4 bytes a pixel)."""
    if mode in ("1", "L", "P"):
        return 1
    if mode in _SIXTEEN_BIT:
        return 2
    return 4


def normalised_bytes_per_pixel(mode: str) -> int:
    """Bytes a pixel of the normalised copy of a ``mode`` picture takes (0: viewed in place, no copy)."""
    if mode == "L" or mode in _RGB_LIKE:
        return 0
    if mode in _TO_GREY:
        return 1
    return 4  # Pillow's conversion to RGB


def _from_16bit(values: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
    """0..65535 to 0..255 as round(v / 257) (the inverse of the exact 8-to-16-bit map v * 257)."""
    if values.dtype.kind == "u" and values.dtype.itemsize <= 2:
        v = values.astype(np.uint32)
    else:
        v = np.clip(values, 0, 65535).astype(np.uint32)
    v *= 2
    v += 257
    v //= 514
    return v.astype(np.uint8)


def _from_float(values: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
    f = np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(np.rint(f), 0, 255).astype(np.uint8)


def _as_uint8(values: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
    return values.astype(np.uint8)


def _tiled_grey(img: Image.Image, convert: Callable[[npt.NDArray[np.generic]], npt.NDArray[np.uint8]]) -> Normalised:
    """Convert ``img`` to 8-bit grey one tile at a time into one ``H x W`` array, shared with an L image."""
    width, height = img.size
    out = np.empty((height, width), dtype=np.uint8)
    tile_w = max(1, min(width, TILE_PIXELS))
    tile_h = max(1, TILE_PIXELS // tile_w)
    for top in range(0, height, tile_h):
        bottom = min(height, top + tile_h)
        for left in range(0, width, tile_w):
            right = min(width, left + tile_w)
            out[top:bottom, left:right] = convert(np.asarray(img.crop((left, top, right, bottom))))
    return _grey_image(out, img)


def _grey_image(grey: npt.NDArray[np.uint8], like: Image.Image) -> Normalised:
    grey = np.ascontiguousarray(grey)
    height, width = grey.shape
    image = Image.frombuffer("L", (width, height), grey, "raw", "L", 0, 1) if grey.size else Image.new("L", like.size)
    image.info = dict(like.info)
    grey.flags.writeable = False
    return Normalised(image, grey)


def _viewed(image: Image.Image) -> Normalised:
    """``image`` (L or RGB-like) with its pixels as a zero-copy view where possible, else one copy."""
    view = pixel_view(image)
    if view is None:
        view = np.asarray(image, dtype=np.uint8)
    return Normalised(image, view if view.ndim == 2 else view[:, :, :3])


def normalise(img: Image.Image) -> Normalised:
    """The picture of ``img`` to hash, per mode:

    * ``RGB``, ``L``: the pixels as decoded (a zero-copy view where Pillow exports its memory, else one
      copy). ``RGBA``/``RGBX``: R, G, B, viewed in place; ``LA``: L (one band copied).
      Alpha is dropped, not composited (as the reference does).
    * ``1``: 0 or 255 grey.
    * ``P``, ``PA``, ``CMYK``, ``YCbCr``, ``LAB``, ``HSV``, ``RGBa``: Pillow's conversion to RGB (palette
      lookup; CMYK as Pillow decodes it, Adobe-inverted JPEGs included, with Pillow's CMYK-to-RGB
      formula; alpha dropped).
    * ``I;16`` and its byte-order variants: 16-bit grey scaled to 8 bits as ``round(v / 257)``.
    * ``I`` (32-bit): values already within 0..255 are taken as 8-bit grey (Pillow's ``L``-to-``I``
      convention); otherwise the picture is taken as 16-bit (clipped to 0..65535) and scaled as ``I;16``.
    * ``F``: Pillow's ``L``-to-``F`` convention (0..255): rounded to nearest, clipped, NaN as 0.
    * Any other mode: Pillow's conversion to RGB.
    """
    mode = img.mode
    if mode == "L" or mode in _RGB_LIKE:
        return _viewed(img)
    if mode == "LA":
        return _viewed(img.getchannel(0))
    if mode == "1":
        return _viewed(img.convert("L"))
    if mode in _SIXTEEN_BIT:
        return _tiled_grey(img, _from_16bit)
    if mode == "I":
        low, high = img.getextrema() if img.width and img.height else (0, 0)
        in_range = isinstance(low, (int, float)) and isinstance(high, (int, float)) and low >= 0 and high <= 255
        return _tiled_grey(img, _as_uint8 if in_range else _from_16bit)
    if mode == "F":
        return _tiled_grey(img, _from_float)
    converted = img.convert("RGB")
    converted.info = dict(img.info)
    return _viewed(converted)


def to_rgb(img: Image.Image) -> npt.NDArray[np.uint8]:
    """The picture of ``img`` as a uint8 array: ``H x W x 3`` RGB, or ``H x W`` grey (meaning R=G=B).

    Both shapes are what ``pdq_from_rgb`` takes; grey is returned as ``H x W`` to save the copy, and
    hashes exactly as the RGB picture with R=G=B would. The array may be a strided read-only view
    (e.g. the first three channels of RGBA); treat it as read-only. See :func:`normalise` per mode.
    """
    return normalise(img).pixels
