"""Tiny hand-made picture files that declare huge sizes, and other hostile pictures, for the tests."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width: int, height: int) -> bytes:
    """A 68-byte RGB PNG whose header declares ``width x height`` (its pixel data is a few bytes)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + png_chunk(b"IEND", b"")
    )


def gif_declaring(width: int, height: int) -> bytes:
    """A 35-byte GIF whose screen and one frame declare ``width x height``."""
    out = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    out += b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00" + b";"
    return out


def webp_declaring(width: int, height: int) -> bytes:
    """A 38-byte lossless WebP of one flat colour declaring ``width x height`` (up to 16384 a side): it
    really decodes, every pixel green, at whatever size it declares."""
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 30)).save(buf, "WEBP", lossless=True, quality=0, method=0, exact=True)
    data = bytearray(buf.getvalue())
    at = data.index(b"VP8L") + 8
    bits = struct.unpack("<I", bytes(data[at + 1 : at + 5]))[0]
    bits = (bits & ~((1 << 28) - 1)) | (width - 1) | ((height - 1) << 14)
    data[at + 1 : at + 5] = struct.pack("<I", bits)
    return bytes(data)
