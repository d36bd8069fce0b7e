"""Benign picture evidence shared by the matching tests: unrelated pictures and near copies of one."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image


def make_evidence(root: Path, *, exact_copies: bool = False) -> None:
    """Four unrelated benign pictures, a text file, ``noise.png`` with a resized and a recompressed copy, and
    ``other-noise.png``; with ``exact_copies`` also a byte copy of ``noise.png`` and a recompressed
    ``other-noise``."""
    root.mkdir()
    rng = np.random.default_rng(11)
    smooth = Image.Resampling.BICUBIC
    noise = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize((256, 256), smooth)
    noise.save(root / "noise.png")
    noise.resize((192, 192), Image.Resampling.LANCZOS).save(root / "noise-small.png")
    noise.save(root / "noise-q85.jpg", quality=85)
    y, x = np.mgrid[0:128, 0:128]
    Image.fromarray((x * 2).astype(np.uint8), "L").save(root / "gradient-x.png")
    Image.fromarray(((x + y) % 256).astype(np.uint8), "L").save(root / "gradient-xy.png")
    blocks = np.kron(rng.integers(0, 256, (8, 8), dtype=np.uint8), np.ones((16, 16), dtype=np.uint8))
    Image.fromarray(blocks, "L").save(root / "blocks.png")
    other = Image.fromarray(np.random.default_rng(99).integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize(
        (128, 128), smooth
    )
    other.save(root / "other-noise.png")
    (root / "notes.txt").write_text("a benign text file\n")
    if exact_copies:
        shutil.copyfile(root / "noise.png", root / "noise-copy.png")
        other.save(root / "other-noise-q90.jpg", quality=90)
