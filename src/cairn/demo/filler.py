"""The ``filler`` contributor: diverse pictures that bring the tree up to its target entry count.

Mostly new pictures (every one drawn afresh, so PDQ hashes differ), plus some near-duplicates and exact
copies of earlier filler pictures and, now and then, a batch of pictures packed into a zip or tar.
It must run last: it fills ``ctx.remaining`` exactly.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from cairn.demo.containers import Member, tar_bytes, zip_bytes
from cairn.demo.context import DemoContext, content_entry, contributor
from cairn.demo.manifest import CONTAINER, IMAGE, DemoEntry, duplicate_of, member_path, near_duplicate_of
from cairn.demo.pictures import EXTENSIONS, STYLES, draw_picture, encode, random_size
from cairn.demo.variants import FILLER_VARIANTS, make_variant

#: How many recent filler pictures are kept in memory as bases for near-duplicates.
_KEEP = 64

_FORMATS = ("jpeg", "png", "webp", "gif", "bmp", "tiff")
_FORMAT_WEIGHTS = np.array([0.55, 0.2, 0.1, 0.05, 0.05, 0.05])

_ROOTS = (
    "DCIM/100CAMERA",
    "DCIM/102CAMERA",
    "Users/alex/Pictures",
    "Users/alex/Pictures/holiday",
    "Users/alex/Documents/Scans",
    "Users/sam/Downloads",
    "Users/sam/Pictures/Camera Roll",
    "Downloads",
    "Users/alex/Desktop/to sort",
)
_EVENTS = (
    "Birthday party",
    "Garden",
    "Ski trip",
    "Zoo visit",
    "Café Müller",
    "Moving day",
    "Bike tour",
    "Renovation",
    "Receipts",
    "Allotment",
    "Ferry to the island",
    "Kitchen",
)


def _folders(rng: np.random.Generator, n: int) -> list[str]:
    """The fixed roots plus about one dated event folder per 40 pictures, a few levels deep."""
    folders = list(_ROOTS)
    for i in range(n // 40):
        year = 2015 + int(rng.integers(0, 8))
        event = _EVENTS[int(rng.integers(0, len(_EVENTS)))]
        owner = ("alex", "sam", "jo")[int(rng.integers(0, 3))]
        folders.append(f"Users/{owner}/Pictures/{year}/{event} {i:03d}")
    return folders


def _name(fmt: str, folder: str, serial: int) -> str:
    ext = EXTENSIONS[fmt]
    if folder.startswith("DCIM"):
        return f"IMG_{serial:05d}.{ext.upper()}"
    if "Documents" in folder:
        return f"scan {serial:05d}.{ext}"
    if "Downloads" in folder:
        return f"image ({serial}).{ext}"
    return f"photo_{serial:05d}.{ext}"


@contributor("filler")
def filler(ctx: DemoContext) -> list[DemoEntry]:
    """Write exactly ``ctx.remaining`` entries of assorted pictures, copies, variants and batches."""
    n = ctx.remaining
    rng = ctx.rng("filler")
    folders = _folders(rng, n)
    out: list[DemoEntry] = []
    originals: list[tuple[str, Image.Image]] = []  # (path, picture) of filler pictures worth varying
    copies: list[tuple[str, str]] = []  # (path, type) of files worth copying (read back from disk)
    batch: list[Member] = []
    batch_size = 12
    serial = 0

    batches = 0

    def flush() -> None:
        nonlocal batch, batches
        index = batches = batches + 1
        if index % 2 == 1:
            rel, data, fmt = f"Backups/batches/batch_{index:04d}.zip", zip_bytes(batch), "zip"
        else:
            rel, data, fmt = f"Backups/batches/batch_{index:04d}.tar", tar_bytes(batch), "tar"
        out.append(ctx.write(rel, data, fmt, (CONTAINER,)))
        for m in batch:
            assert m.data is not None
            out.append(content_entry(member_path(rel, m.name), m.data, m.content_type, m.roles))
        batch = []

    def produced() -> int:
        return len(out) + len(batch) + (1 if batch else 0)  # a started batch reserves its container

    while produced() < n:
        if len(batch) >= batch_size:
            flush()
            ctx.report(len(out))
            continue
        serial += 1
        roll = float(rng.random())
        folder = folders[int(rng.integers(0, len(folders)))]
        if roll < 0.12 and originals:
            base_path, img = originals[int(rng.integers(0, len(originals)))]
            variant = FILLER_VARIANTS[int(rng.integers(0, len(FILLER_VARIANTS)))]
            data, fmt = make_variant(img, variant)
            rel = f"{folder}/{_name(fmt, folder, serial)}"
            out.append(ctx.write(rel, data, fmt, (IMAGE, near_duplicate_of(base_path, variant))))
        elif roll < 0.16 and copies:
            src, fmt = copies[int(rng.integers(0, len(copies)))]
            data = ctx.root.joinpath(*src.split("/")).read_bytes()
            rel = f"{folder}/{_name(fmt, folder, serial)}"
            out.append(ctx.write(rel, data, fmt, (IMAGE, duplicate_of(src))))
        else:
            fmt = _FORMATS[int(rng.choice(len(_FORMATS), p=_FORMAT_WEIGHTS))]
            style = STYLES[int(rng.integers(0, len(STYLES)))]
            # Scenes (the only near-duplicate bases) are kept at least 200 px on the short side.
            img = draw_picture(rng, *random_size(rng, 360 if style == "scene" else 64, 720), style)
            data = encode(img, fmt)
            room = n - produced()
            if roll > 0.9 and n >= 200 and (room >= 2 or (batch and room >= 1)):
                name = f"{folder.rsplit('/', 1)[-1]}/{_name(fmt, folder, serial)}"
                batch.append(Member(name, data, fmt, (IMAGE,), compress=fmt not in ("jpeg", "webp")))
            else:
                rel = f"{folder}/{_name(fmt, folder, serial)}"
                out.append(ctx.write(rel, data, fmt, (IMAGE,)))
                copies.append((rel, fmt))
                if style == "scene" and fmt != "gif":
                    if len(originals) < _KEEP:
                        originals.append((rel, img))
                    else:
                        originals[int(rng.integers(0, _KEEP))] = (rel, img)
        if serial % 25 == 0:
            ctx.report(produced())
    if batch:
        flush()
    ctx.report(len(out))
    return out
