"""Mutated files of every kind cairn parses go through the whole per-item path without an exception.

A deterministic mutation run (seeded): bytes flipped, runs overwritten, the file cut short or padded,
for pictures and archives written by Pillow, zipfile and tarfile. Every mutant must yield results with
correct digests, and any problem must come back as a recorded error, never a raise.
"""

from __future__ import annotations

import hashlib
import io
import random
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cairn.errors import ALL_CODES
from cairn.pipeline.task import process_item
from cairn.settings import Limits, ScanSettings
from cairn.sources.open import open_source

MUTANTS = 300


def _picture(fmt: str) -> bytes:
    rng = np.random.default_rng(1)
    im = Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    buf = io.BytesIO()
    if fmt == "GIF":
        frames = [im, im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
        frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    else:
        im.save(buf, format=fmt)
    return buf.getvalue()


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/pic.png", _picture("PNG"))
        zf.writestr("b.txt", "a red bicycle on a beach " * 20)
    return buf.getvalue()


def _targz() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in (("pic.jpg", _picture("JPEG")), ("inner.zip", _zip())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


SEEDS = {
    "jpg": lambda: _picture("JPEG"),
    "png": lambda: _picture("PNG"),
    "gif": lambda: _picture("GIF"),
    "webp": lambda: _picture("WEBP"),
    "tif": lambda: _picture("TIFF"),
    "bmp": lambda: _picture("BMP"),
    "zip": _zip,
    "tar.gz": _targz,
}


def _mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    action = rng.randrange(4)
    if action == 0:  # flip a few bytes, header included
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    elif action == 1:  # overwrite a run with garbage
        start = rng.randrange(len(out))
        out[start : start + rng.randint(1, 64)] = rng.randbytes(rng.randint(1, 64))
    elif action == 2:  # cut short
        del out[rng.randint(1, len(out) - 1) :]
    else:  # a huge declared size or count somewhere: set 4 bytes to 0xFF
        pos = rng.randrange(max(1, len(out) - 4))
        out[pos : pos + 4] = b"\xff\xff\xff\xff"
    return bytes(out)


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_mutants_never_raise_and_keep_correct_digests(kind: str, tmp_path: Path) -> None:
    rng = random.Random(f"cairn-{kind}")
    seed = SEEDS[kind]()
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    mutants = {}
    for i in range(MUTANTS):
        data = _mutate(seed, rng)
        path = evidence / f"m{i:03d}.{kind}"
        path.write_bytes(data)
        mutants[path.name] = data
    settings = ScanSettings(limits=Limits(max_image_pixels=4_000_000, max_member_size=8 * 1024**2))
    results = [process_item(item, settings) for item in open_source(evidence).items(settings.limits)]
    top = {r.locator.path: r for r in results if r.locator.depth == 0}
    assert set(top) == set(mutants)
    for name, data in mutants.items():
        assert top[name].hashes["sha256"] == hashlib.sha256(data).hexdigest(), name
    for r in results:
        assert all(e.code in ALL_CODES and e.message for e in r.errors), r.locator.path
        assert not any(e.code == "signal_failed" for e in r.errors), (r.locator.path, r.errors)
