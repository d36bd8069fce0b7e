"""Builders of nested archives whose levels each look harmless but whose whole expands far past its size."""

from __future__ import annotations

import random
import zipfile
import zlib

from tests.sources import zip_bytes

#: The ratio limit the nesting tests use; each level stays under it.
RATIO = 20.0


def compressible(seed: int, n: int) -> bytes:
    """``n`` benign bytes that deflate about 15 times (runs of zeros broken by one random byte)."""
    rng = random.Random(seed)
    out = bytearray()
    while len(out) < n:
        out += bytes(rng.randrange(30, 60))
        out.append(rng.randrange(1, 256))
    return bytes(out[:n])


def deflate_ratio(data: bytes) -> float:
    return len(data) / len(zlib.compress(data, 6))


def nested_budget_bomb() -> bytes:
    """``outer.zip`` (deflated): four loose 256 KiB files ``p0..p3``, then ``l1.zip`` (stored) holding eight
    256 KiB files ``q0..q7``. Every member is under ``RATIO`` and so is each archive as a whole, yet reading
    both levels expands past ``RATIO`` times the outer file's size, part-way through ``l1.zip``."""
    leaves = [(f"q{i}.bin", compressible(100 + i, 256 * 1024)) for i in range(8)]
    l1 = zip_bytes(leaves, zipfile.ZIP_STORED)
    loose = [(f"p{i}.bin", compressible(i, 256 * 1024)) for i in range(4)]
    return zip_bytes([*loose, ("l1.zip", l1)], zipfile.ZIP_DEFLATED)
