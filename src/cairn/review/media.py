"""Thumbnails as the review grid shows them: blurred and greyscale by default, re-encoded on the server (PNG).

Only the case database's stored WebP thumbnails are used (never the evidence, never the original bytes). A
stored thumbnail larger than :data:`MAX_SIDE` or unreadable is :class:`ThumbnailUnreadable`.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable

from PIL import Image, ImageFilter

#: A stored thumbnail is at most 256 px a side; anything much bigger was not written by cairn.
MAX_SIDE = 1024
#: Gaussian blur radius, in pixels of the thumbnail, unless the user chose another (``users.blur_radius``).
BLUR_RADIUS = 12.0
_CACHE_ENTRIES = 4096


class ThumbnailUnreadable(ValueError):
    """Stored thumbnail bytes that are not a small picture Pillow can read."""


def blurred_greyscale(webp: bytes, radius: float = BLUR_RADIUS, greyscale: bool = True) -> bytes:
    """``webp`` decoded, made greyscale (unless ``greyscale`` is False: RGB), Gaussian-blurred with ``radius``,
    re-encoded as PNG (one channel when grey: exactly grey, as a lossy colour format would bring back tints)."""
    try:
        with Image.open(io.BytesIO(webp)) as im:
            if max(im.size) > MAX_SIDE:
                raise ThumbnailUnreadable(f"stored thumbnail is {im.size[0]}x{im.size[1]}, larger than {MAX_SIDE} px")
            grey = im.convert("L" if greyscale else "RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        if isinstance(exc, ThumbnailUnreadable):
            raise
        raise ThumbnailUnreadable(f"stored thumbnail unreadable: {exc}") from exc
    out = io.BytesIO()
    grey.filter(ImageFilter.GaussianBlur(radius)).save(out, format="PNG", optimize=False)
    return out.getvalue()


class BlurCache:
    """A bounded, thread-safe cache of blurred thumbnails by content SHA-256."""

    def __init__(self, entries: int = _CACHE_ENTRIES) -> None:
        """Keep at most ``entries`` blurred thumbnails (least recently used dropped first)."""
        self._entries = entries
        self._data: OrderedDict[tuple[str, float, bool], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, sha256: str, load: Callable[[], bytes | None], radius: float = BLUR_RADIUS, greyscale: bool = True
    ) -> bytes | None:
        """The blurred (and, by default, greyscale) form of the thumbnail of content ``sha256``, cached by content
        and settings; ``load()`` gives the stored WebP when it is not cached (None: there is none, and None is
        returned)."""
        key = (sha256, float(radius), bool(greyscale))
        with self._lock:
            found = self._data.get(key)
            if found is not None:
                self._data.move_to_end(key)
                return found
        webp = load()
        if webp is None:
            return None
        made = blurred_greyscale(webp, radius, greyscale)
        with self._lock:
            self._data[key] = made
            while len(self._data) > self._entries:
                self._data.popitem(last=False)
        return made
