"""Blurred greyscale thumbnails: one channel, blurred, bounded, and a bounded cache."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from cairn.review.media import BlurCache, ThumbnailUnreadable, blurred_greyscale


def _webp(im: Image.Image) -> bytes:
    out = io.BytesIO()
    im.save(out, format="WEBP", quality=90)
    return out.getvalue()


def _checkerboard() -> Image.Image:
    board = (np.indices((128, 128)).sum(axis=0) // 8 % 2 * 255).astype(np.uint8)
    return Image.fromarray(np.stack([board, 255 - board, board // 2], axis=2), "RGB")


def test_blurred_greyscale_is_one_channel_and_smooth() -> None:
    made = blurred_greyscale(_webp(_checkerboard()))
    with Image.open(io.BytesIO(made)) as im:
        assert im.format == "PNG" and im.mode == "L" and im.size == (128, 128)
        pixels = np.asarray(im).astype(int)
    assert np.abs(np.diff(pixels, axis=1)).max() < 40  # the 255-step edges are gone
    assert 90 < pixels.mean() < 170


def _png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


@pytest.mark.parametrize("data", [b"", b"not a picture", _png_header_only(50_000, 50_000), _webp(_checkerboard())[:40]])
def test_unreadable_or_oversized_thumbnails_are_refused(data: bytes) -> None:
    with pytest.raises(ThumbnailUnreadable):
        blurred_greyscale(data)


def test_the_cache_is_bounded_and_loads_once() -> None:
    cache = BlurCache(entries=2)
    calls: list[str] = []
    data = _webp(_checkerboard())

    def load(name: str) -> bytes:
        calls.append(name)
        return data

    first = cache.get("a", lambda: load("a"))
    assert cache.get("a", lambda: load("a")) == first and calls == ["a"]
    cache.get("b", lambda: load("b"))
    cache.get("c", lambda: load("c"))  # evicts "a"
    cache.get("a", lambda: load("a"))
    assert calls == ["a", "b", "c", "a"]
    assert cache.get("none", lambda: None) is None
