"""Benign demo pictures whose AI provenance is in the pixels: stealth pixel copies and invisible watermarks.

Every picture is drawn (no model made it); every record describes the demo's benign generation ("a red bicycle
on a beach"). Written the way the tools write them (see :mod:`cairn.signals.provenance.stealth` and
:mod:`cairn.signals.provenance.watermark` for the formats):

* **Forge** PNG: tEXt ``parameters`` *and* the stealth copy Forge adds by default (alpha channel,
  ``stealth_pngcomp``, alpha made opaque first); the same picture with its text chunks stripped; and that one
  converted to WebP lossless: both still attributed through the pixels.
* **NovelAI**-style picture with the RGB variant (``stealth_rgbcomp``): NovelAI's JSON (its text chunks as one
  object, ``Title`` left out as NovelAI's writer does) in the red, green and blue LSBs, no text chunks.
* **SDXL** and **SD 1.x** invisible watermarks (dwtDct) on 512x512 pictures: SDXL's 48 bits as the diffusers
  pipeline embeds them (the RGB array handed over as if BGR), SD 1.x's ``StableDiffusionV1`` as the reference
  script does (BGR). Embedded with cairn's own encoder, so the demo needs no optional package and is the
  same on every machine; the package's decoder reads them (tests check it where it is installed).

:data:`WRITERS` (each ``(folder) -> [paths written]``) is run by the demo's AI-samples hook.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image

from cairn.signals.provenance import stealth, watermark

#: Side of the watermarked pictures (a generator size: ``--watermarks auto`` checks it).
WATERMARK_SIDE = 512

FORGE_PNG = "forge_stealth_bicycle.png"
FORGE_STRIPPED = "forge_stealth_stripped.png"
FORGE_WEBP = "forge_stealth_stripped.webp"
NOVELAI_RGB = "novelai_stealth_rgb.png"
SDXL_MARKED = "sdxl_watermark_bicycle.png"
SD1_MARKED = "sd1_watermark_bicycle.png"


def _samples() -> ModuleType:
    # imported when called: ai_samples imports this module for its WRITERS
    from cairn.demo import ai_samples

    return ai_samples


def forge_text() -> str:
    """The Forge infotext the Forge samples carry (in text and pixels)."""
    a = _samples()
    return str(a.a1111_infotext(a.FORGE_VERSION))


def forge_picture() -> Image.Image:
    """The Forge sample's pixels: RGBA, the infotext gzip'd in the alpha LSBs (``stealth_pngcomp``)."""
    bits = stealth.stealth_bits(forge_text(), "stealth_pngcomp")
    return stealth.embed_stealth(_samples().picture("forge stealth"), bits, "alpha")


def novelai_json() -> str:
    """NovelAI's pixel-copy JSON: its text chunks as one object, without ``Title``."""
    return json.dumps({k: v for k, v in _samples().novelai_chunks() if k != "Title"})


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG", compress_level=6)
    return out.getvalue()


def write_forge_stealth(folder: Path) -> list[Path]:
    """Forge PNG with ``parameters`` and the stealth copy; the stripped copy; the stripped copy as WebP lossless."""
    a = _samples()
    img = forge_picture()
    webp = io.BytesIO()
    img.save(webp, "WEBP", lossless=True, exact=True)
    return [
        a._write(folder, FORGE_PNG, a.png_with(img, [("parameters", forge_text())])),
        a._write(folder, FORGE_STRIPPED, _png(img)),
        a._write(folder, FORGE_WEBP, webp.getvalue()),
    ]


def write_novelai_stealth_rgb(folder: Path) -> list[Path]:
    """NovelAI-style picture carrying its JSON in the RGB LSBs only (``stealth_rgbcomp``)."""
    a = _samples()
    bits = stealth.stealth_bits(novelai_json(), "stealth_rgbcomp")
    img = stealth.embed_stealth(a.picture("novelai stealth"), bits, "rgb")
    return [a._write(folder, NOVELAI_RGB, _png(img))]


def marked_picture(name: str, scheme: watermark.Scheme, order: str) -> Image.Image:
    """A drawn 512x512 picture carrying ``scheme``'s message (dwtDct, channel ``order``)."""
    pixels = np.asarray(_samples().picture(name, WATERMARK_SIDE, WATERMARK_SIDE).convert("RGB"))
    return Image.fromarray(watermark.embed(pixels, scheme.bits, order))


def write_watermarked(folder: Path) -> list[Path]:
    """SDXL (diffusers' channel order) and SD 1.x (BGR) watermarked PNGs."""
    a = _samples()
    return [
        a._write(folder, SDXL_MARKED, _png(marked_picture("sdxl watermark", watermark.SDXL, "rgb"))),
        a._write(folder, SD1_MARKED, _png(marked_picture("sd1 watermark", watermark.SD1, "bgr"))),
    ]


#: The pixel-provenance sample writers, for the demo's AI-samples hook.
WRITERS: tuple[Callable[[Path], list[Path]], ...] = (
    write_forge_stealth,
    write_novelai_stealth_rgb,
    write_watermarked,
)
