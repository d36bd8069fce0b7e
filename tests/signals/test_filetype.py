"""Type sniffing against files real encoders write, and the extension-lie flag."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from cairn.signals import filetype


def _picture() -> Image.Image:
    rng = np.random.default_rng(3)
    return Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8))


@pytest.mark.parametrize(
    ("fmt", "label"),
    [("JPEG", "jpeg"), ("PNG", "png"), ("GIF", "gif"), ("WEBP", "webp"), ("BMP", "bmp"), ("TIFF", "tiff")],
)
def test_pillow_written_images_are_recognised(fmt: str, label: str) -> None:
    buf = io.BytesIO()
    _picture().save(buf, format=fmt)
    ftype = filetype.sniff(buf.getvalue()[:4096])
    assert ftype.label == label
    assert ftype.is_image


def test_archives_and_plain_data() -> None:
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as zf:
        zf.writestr("a.txt", "a red bicycle on a beach")
    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w") as tf:
        data = b"hello"
        info = tarfile.TarInfo("x.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    assert filetype.sniff(zbuf.getvalue()).label == "zip"
    assert filetype.sniff(tbuf.getvalue()[:1024]).label == "tar"
    assert filetype.sniff(gzip.compress(b"x")).label == "gzip"
    assert filetype.sniff(b"").label == "empty"
    assert filetype.sniff("plain words, ünïcode".encode()).label == "text"
    assert filetype.sniff(bytes(range(256))).label == "binary"


@pytest.mark.parametrize(
    ("name", "label", "mismatch"),
    [
        ("photo.jpg", "jpeg", False),
        ("photo.JPEG", "jpeg", False),
        ("photo.jpg", "png", True),
        ("notes.txt", "jpeg", True),
        ("archive.tar.gz", "gzip", False),
        ("backup.tgz", "tar", False),
        ("blob.xyz", "jpeg", False),  # unknown extension: no claim, no lie
        ("noext", "png", False),
        ("data.bin", "binary", False),
    ],
)
def test_extension_mismatch(name: str, label: str, mismatch: bool) -> None:
    ftype = next(t for _, _, t in filetype.SIGNATURES if t.label == label) if label not in (
        "binary",
        "text",
    ) else filetype.BINARY
    assert filetype.extension_mismatch(name, ftype) is mismatch
