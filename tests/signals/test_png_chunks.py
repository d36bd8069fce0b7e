"""Issue 10 item 12: one oversized PNG metadata chunk must not cost a picture its PDQ.

A valid PNG carrying a zTXt, iCCP or iTXt chunk that decompresses to 100 MB (about 97 KB on disk) is
decoded with that chunk left out, gets an ``image_chunk_skipped`` note, and hashes exactly as the same
PNG without the chunk; its digests stay those of the file as it is. Pillow's own limits stay in force.
"""

from __future__ import annotations

import functools
import hashlib
import io
import zlib

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from cairn import errors
from cairn.model import EvidenceItem, FileResult, ItemMeta, Locator
from cairn.pipeline.task import process_item
from cairn.settings import ScanSettings
from tests.signals.hostile_pictures import png_chunk

HUNDRED_MB = 100 * 1024 * 1024


def _png() -> bytes:
    y, x = np.mgrid[0:240, 0:320]
    pixels = np.stack([x * 255 // 320, y * 255 // 240, (x ^ y) & 255], axis=-1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


@functools.lru_cache(maxsize=1)
def _hundred_mb_of_zeros() -> bytes:
    stream = zlib.compressobj(9)
    zeros = bytes(1024 * 1024)
    return b"".join(stream.compress(zeros) for _ in range(HUNDRED_MB // len(zeros))) + stream.flush()


def _bomb_chunk(kind: bytes) -> bytes:
    compressed = _hundred_mb_of_zeros()
    if kind == b"iTXt":
        return png_chunk(kind, b"Comment\0\x01\x00en\0\0" + compressed)
    return png_chunk(kind, b"Comment\0\x00" + compressed)


@pytest.fixture(scope="module")
def clean() -> bytes:
    return _png()


def _with_chunk(png: bytes, chunk: bytes, before_idat: bool) -> bytes:
    at = png.index(b"IDAT") - 4 if before_idat else png.index(b"IEND") - 4
    return png[:at] + chunk + png[at:]


def _process(name: str, data: bytes) -> FileResult:
    return process_item(EvidenceItem(Locator((name,)), ItemMeta(size=len(data)), data=data), ScanSettings())


@pytest.mark.parametrize(
    ("kind", "before_idat"), [(b"zTXt", True), (b"iCCP", True), (b"iTXt", True), (b"zTXt", False)]
)
def test_an_oversized_chunk_is_skipped_and_the_pixels_hashed(clean: bytes, kind: bytes, before_idat: bool) -> None:
    hostile = _with_chunk(clean, _bomb_chunk(kind), before_idat)
    assert len(hostile) < 200_000
    expected = _process("a.png", clean)
    result = _process("b.png", hostile)
    # The provenance reader also says it could not read the bomb's text (a note of its own, never an error).
    assert [e.code for e in result.errors if e.code != errors.PROVENANCE_UNREADABLE] == [errors.IMAGE_CHUNK_SKIPPED]
    assert kind.decode() in result.errors[0].message
    assert result.hashes["pdq"] == expected.hashes["pdq"]
    assert result.hash_quality == expected.hash_quality and result.thumbnail is not None
    assert result.hashes["sha256"] == hashlib.sha256(hostile).hexdigest()
    assert PngImagePlugin.MAX_TEXT_CHUNK == 1024 * 1024  # Pillow's chunk limit untouched
    assert Image.MAX_IMAGE_PIXELS is None  # Pillow's global left as cairn found it after the decode


def test_ordinary_metadata_is_kept(clean: bytes) -> None:
    small = png_chunk(b"zTXt", b"Comment\0\x00" + zlib.compress(b"benign text " * 100))
    result = _process("ok.png", _with_chunk(clean, small, before_idat=True))
    assert result.errors == [] and "pdq" in result.hashes


def test_text_beyond_the_total_memory_limit_is_skipped(clean: bytes) -> None:
    chunk = png_chunk(b"zTXt", b"Comment\0\x00" + zlib.compress(bytes(PngImagePlugin.MAX_TEXT_CHUNK - 10)))
    many = b"".join([chunk] * 70)  # 70 x ~1 MB of text, over the 64 MB total
    result = _process("many.png", _with_chunk(clean, many, before_idat=True))
    codes = [e.code for e in result.errors]
    assert codes and set(codes) == {errors.IMAGE_CHUNK_SKIPPED} and "pdq" in result.hashes


def test_an_ancillary_chunk_with_a_bad_crc_is_skipped_not_the_picture(clean: bytes) -> None:
    """Pillow refuses a whole PNG over one text chunk's CRC; cairn leaves that chunk out, so the pixels are
    hashed and the provenance signals still read the file's own bytes (the text is in them, as written)."""
    chunk = bytearray(png_chunk(b"tEXt", b"parameters\0a red bicycle on a beach\nSteps: 20, Seed: 1, Size: 320x240"))
    chunk[-1] ^= 0xFF  # break its CRC
    result = _process("crc.png", _with_chunk(clean, bytes(chunk), before_idat=True))
    assert [e.code for e in result.errors] == [errors.IMAGE_CHUNK_SKIPPED, errors.PROVENANCE_UNREADABLE]
    assert "tEXt" in result.errors[0].message and "CRC" in result.errors[0].message
    assert result.hashes["pdq"] == _process("a.png", clean).hashes["pdq"]
    (record,) = [f.data for f in result.findings if f.kind == "generation_record"]
    assert record["prompt"] == "a red bicycle on a beach" and record["seed"] == 1


def test_a_critical_chunk_with_a_bad_crc_is_left_to_the_decoder(clean: bytes) -> None:
    damaged = bytearray(clean)
    at = clean.index(b"IDAT")
    length = int.from_bytes(clean[at - 4 : at], "big")
    damaged[at + 4 + length] ^= 0xFF  # the IDAT chunk's CRC
    result = _process("idat.png", bytes(damaged))
    assert errors.IMAGE_CHUNK_SKIPPED not in [e.code for e in result.errors]
