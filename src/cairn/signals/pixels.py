"""Pixel normalisation: any decoded Pillow image to the uint8 array that PDQ (and later signals) hash.

The image pipeline calls :func:`to_rgb` once per decoded image and passes the result to
``cairn.signals.pdq.pdq_from_rgb``. The goal is "the same RGB picture" whatever mode the decoder chose,
so that a CMYK JPEG, a palette PNG or a 16-bit PNG of a picture hash like its 8-bit RGB original, while
plain RGB and L images are passed through untouched (their hashes stay bit-identical to the reference,
``threatexchange``'s ``pdq_from_file``, and therefore to hash lists made with it).

Alpha is dropped, never composited onto a background: that is what the reference does, so hashes of
transparent pictures agree with lists made by HMA. EXIF orientation is not applied here.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image

from cairn.signals.pixel_memory import pixel_view

__all__ = ["to_rgb"]

#: Modes whose first three channels are R, G, B (the rest, alpha or padding, is ignored).
_RGB_LIKE = frozenset({"RGB", "RGBA", "RGBX"})
_SIXTEEN_BIT = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I;16S", "I;16BS", "I;16LS"})


def _from_16bit(values: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
    """0..65535 to 0..255 as round(v / 257) (the inverse of the exact 8-to-16-bit map v * 257)."""
    v = np.clip(values.astype(np.int64), 0, 65535)
    return ((v * 2 + 257) // 514).astype(np.uint8)


def to_rgb(img: Image.Image) -> npt.NDArray[np.uint8]:
    """The picture of ``img`` as a uint8 array: ``H x W x 3`` RGB, or ``H x W`` grey (meaning R=G=B).

    Both shapes are what ``pdq_from_rgb`` takes; grey is returned as ``H x W`` to save the copy, and
    hashes exactly as the RGB picture with R=G=B would. The array may be a strided read-only view
    (e.g. the first three channels of RGBA); treat it as read-only. Per mode:

    * ``RGB``, ``L``: the pixels as decoded (a zero-copy view where Pillow exports its memory, else one
      copy). ``RGBA``/``RGBX``: R, G, B;
      ``LA``: L. Alpha is dropped, not composited (as the reference does).
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
        view = pixel_view(img)  # no copy where Pillow exports its memory
        if view is not None:
            return view if mode == "L" else view[:, :, :3]
    if mode == "L":
        return np.asarray(img, dtype=np.uint8)
    if mode in _RGB_LIKE:
        arr = np.asarray(img, dtype=np.uint8)
        return arr if mode == "RGB" else arr[:, :, :3]
    if mode == "LA":
        return np.asarray(img, dtype=np.uint8)[:, :, 0]
    if mode == "1":
        return np.asarray(img.convert("L"), dtype=np.uint8)
    if mode in _SIXTEEN_BIT:
        return _from_16bit(np.asarray(img))
    if mode == "I":
        values = np.asarray(img)
        if values.size == 0 or (int(values.min()) >= 0 and int(values.max()) <= 255):
            return values.astype(np.uint8)
        return _from_16bit(values)
    if mode == "F":
        f = np.nan_to_num(np.asarray(img, dtype=np.float32), nan=0.0, posinf=255.0, neginf=0.0)
        return np.clip(np.rint(f), 0, 255).astype(np.uint8)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)
