"""Exact duplicates and perceptual near-duplicates of base pictures.

Variants are made from the decoded base file, as a real re-save would be: resized, recompressed at a
low JPEG quality, cropped by about 3 % of the area, brightness-shifted, and converted PNG -> JPEG / WebP.
Bases are ``scene`` pictures at least 200 px on the short side, whose PDQ hash stays within 31 bits
under all of these edits.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageEnhance

from cairn.demo.context import DemoContext, contributor
from cairn.demo.manifest import IMAGE, DemoEntry, duplicate_of, near_duplicate_of
from cairn.demo.pictures import DCIM, DESKTOP, DOWNLOADS, SAM, draw_picture, encode

DAY2 = "Users/alex/Pictures/holiday/2021/beach/day 2"


def crop_fraction(img: Image.Image, fraction: float) -> Image.Image:
    """Cut ``fraction`` of width and height off, split between the two sides."""
    w, h = img.size
    dx, dy = round(w * fraction / 2), round(h * fraction / 2)
    return img.crop((dx, dy, w - dx, h - dy))


def shift_brightness(img: Image.Image, delta: int) -> Image.Image:
    """Add ``delta`` to every channel, clipped."""
    arr = np.asarray(img.convert("RGB"), dtype=np.int16) + delta
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def make_variant(img: Image.Image, variant: str) -> tuple[bytes, str]:
    """Encode one named variant of ``img``; returns (bytes, content type)."""
    if variant == "resized":
        w, h = img.size
        return encode(img.resize((w // 2, h // 2), Image.Resampling.LANCZOS), "jpeg"), "jpeg"
    if variant == "recompressed":
        return encode(img, "jpeg", quality=30), "jpeg"
    if variant == "cropped":
        return encode(crop_fraction(img, 0.015), "jpeg"), "jpeg"  # about 3 % of the area
    if variant == "brightness":
        return encode(shift_brightness(img, 18), "jpeg"), "jpeg"
    if variant == "contrast":
        return encode(ImageEnhance.Contrast(img).enhance(1.15), "jpeg"), "jpeg"
    if variant == "to_jpeg":
        return encode(img, "jpeg"), "jpeg"
    if variant == "to_webp":
        return encode(img, "webp"), "webp"
    if variant == "to_png":
        return encode(img, "png"), "png"
    raise ValueError(f"unknown variant {variant!r}")


#: Variants the filler may apply to a picture it drew (any of them keeps PDQ within 31 bits).
FILLER_VARIANTS = ("resized", "recompressed", "cropped", "brightness", "contrast", "to_webp", "to_png")


def decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB")


@contributor("variants")
def variants(ctx: DemoContext) -> list[DemoEntry]:
    """Two base pictures, their exact copies elsewhere, and their near-duplicates."""
    rng = ctx.rng("variants")
    out: list[DemoEntry] = []

    def put(rel: str, data: bytes, fmt: str, *roles: str) -> None:
        out.append(ctx.write(rel, data, fmt, (IMAGE, *roles)))
        ctx.report(len(out))

    # Base A: a camera JPEG.
    a_path = f"{DAY2}/IMG_4001.jpg"
    a_bytes = encode(draw_picture(rng, 800, 600, "scene"), "jpeg", quality=92)
    put(a_path, a_bytes, "jpeg")
    put("Backups/2021/old phone/IMG_4001.jpg", a_bytes, "jpeg", duplicate_of(a_path))
    put(f"{DESKTOP}/copy of beach.jpg", a_bytes, "jpeg", duplicate_of(a_path))
    a_img = decode(a_bytes)
    for variant, rel in (
        ("resized", f"{DOWNLOADS}/resized/IMG_4001_small.jpg"),
        ("recompressed", f"{SAM}/IMG_4001 (1).jpg"),
        ("cropped", f"{DAY2}/IMG_4001_edit.jpg"),
        ("brightness", f"{DAY2}/IMG_4001_bright.jpg"),
    ):
        data, fmt = make_variant(a_img, variant)
        put(rel, data, fmt, near_duplicate_of(a_path, variant))

    # Base B: a lossless PNG, converted to JPEG and WebP.
    b_path = f"{DESKTOP}/Screenshot 2021-06-03 at 09.14.02.png"
    b_bytes = encode(draw_picture(rng, 720, 480, "scene"), "png")
    put(b_path, b_bytes, "png")
    put(f"{DCIM}/Screenshot.png", b_bytes, "png", duplicate_of(b_path))
    b_img = decode(b_bytes)
    for variant, rel in (
        ("to_jpeg", f"{DOWNLOADS}/screenshot.jpg"),
        ("to_webp", f"{SAM}/screenshot.webp"),
    ):
        data, fmt = make_variant(b_img, variant)
        put(rel, data, fmt, near_duplicate_of(b_path, variant))
    return out
