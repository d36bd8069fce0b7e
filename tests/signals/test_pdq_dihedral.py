"""Dihedral PDQ variants: bit-identical to ``pdqhash.compute_dihedral``, numpy fallback equal to C, stored by the
scan signal, and each variant near the hash of the picture transformed as documented."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
import pdqhash
import pytest
from PIL import Image

from cairn.demo.pictures import STYLES, draw_picture
from cairn.model import EvidenceItem, ItemMeta, Locator
from cairn.pipeline.task import process_item
from cairn.settings import ScanSettings
from cairn.signals.imaging import fast_pdq_scale
from cairn.signals.pdq import (
    DIHEDRAL_INVERSE,
    DIHEDRAL_KIND,
    DIHEDRAL_TRANSFORMS,
    dihedral_value,
    dihedral_variants,
    pdq_dihedral_from_rgb,
    pdq_distance,
    pdq_from_rgb,
)
from cairn.signals.pdq.reference import pdq_hash_dihedral_numpy

from .test_pdq import KINDS, picture

U8 = npt.NDArray[np.uint8]

#: Pillow's transpose that gives (near) the hash of each variant, in DIHEDRAL_TRANSFORMS order.
PILLOW = {
    "rot90": Image.Transpose.ROTATE_90,
    "rot180": Image.Transpose.ROTATE_180,
    "rot270": Image.Transpose.ROTATE_270,
    "flipx": Image.Transpose.FLIP_TOP_BOTTOM,
    "flipy": Image.Transpose.FLIP_LEFT_RIGHT,
    "flipplus": Image.Transpose.TRANSPOSE,
    "flipminus": Image.Transpose.TRANSVERSE,
}


def reference(pixels: U8) -> tuple[tuple[str, ...], int]:
    """``pdqhash.compute_dihedral`` as hex (bit 255 first, as threatexchange prints a PDQ)."""
    rgb = np.dstack([pixels] * 3) if pixels.ndim == 2 else pixels
    vectors, quality = pdqhash.compute_dihedral(rgb)
    hexes = tuple(f"{int(''.join(str(int(b)) for b in v), 2):064x}" for v in vectors)
    return hexes, int(quality)


def demo_picture(style: str, w: int, h: int, seed: int) -> U8:
    return np.asarray(draw_picture(np.random.default_rng(seed), w, h, style).convert("RGB"))


SIZES = [(5, 5), (9, 5), (31, 17), (64, 64), (65, 64), (100, 100), (129, 257), (480, 640), (601, 399), (7, 1500)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("h", "w"), SIZES)
def test_bit_identical_to_pdqhash(h: int, w: int, kind: str) -> None:
    pixels = picture(h, w, kind, seed=h * 31 + w)
    hexes, quality = pdq_dihedral_from_rgb(pixels)
    assert (hexes, quality) == reference(pixels)
    assert (hexes[0], quality) == pdq_from_rgb(pixels)


@pytest.mark.parametrize("style", STYLES)
def test_demo_pictures_bit_identical(style: str) -> None:
    for seed, (w, h) in enumerate([(320, 240), (97, 401), (800, 600)]):
        pixels = demo_picture(style, w, h, seed)
        assert pdq_dihedral_from_rgb(pixels) == reference(pixels), (style, w, h)


def test_grey_and_strides() -> None:
    base = demo_picture("scene", 700, 500, 4)
    grey = np.ascontiguousarray(base[:, :, 1])
    for view in (base[::2, ::3], base[::-1], base[:, :, ::-1], base.transpose(1, 0, 2), grey, grey.T):
        assert pdq_dihedral_from_rgb(view) == reference(np.ascontiguousarray(view))


@pytest.mark.parametrize(("h", "w"), [(5, 5), (64, 64), (9, 140), (150, 97), (300, 260)])
@pytest.mark.parametrize("kind", ["noise", "mix", "flat", "gradient"])
def test_numpy_fallback_equals_c(h: int, w: int, kind: str) -> None:
    pixels = picture(h, w, kind, seed=h + 7 * w)
    assert pdq_hash_dihedral_numpy(pixels) == pdq_dihedral_from_rgb(pixels)
    grey = np.ascontiguousarray(pixels[:, :, 0])
    assert pdq_hash_dihedral_numpy(grey) == pdq_dihedral_from_rgb(grey)


def test_tiny_and_empty_are_zero() -> None:
    zero = ("0" * 64,) * 8, 0
    assert pdq_dihedral_from_rgb(picture(4, 40, "noise", seed=2)) == zero == reference(picture(4, 40, "noise", 2))
    assert pdq_dihedral_from_rgb(np.zeros((0, 9, 3), dtype=np.uint8)) == zero
    with pytest.raises(TypeError):
        pdq_dihedral_from_rgb(np.zeros((9, 9, 3), dtype=np.int16))  # type: ignore[arg-type,unused-ignore]
    with pytest.raises(ValueError):
        pdq_dihedral_from_rgb(np.zeros((9, 9, 2), dtype=np.uint8))


@pytest.mark.parametrize("seed", [0, 2, 4, 5])  # scenes of PDQ quality >= 50 (the blur makes some lower)
def test_each_variant_is_the_hash_of_that_transform(seed: int) -> None:
    """Variant t of a picture's hash is the nearest of the eight to the hash of the picture transformed by t
    (Pillow), and near it; and the transformed picture's own variants lead back by the inverse transform."""
    img = Image.fromarray(demo_picture("scene", 640, 480, seed))
    hexes, quality = pdq_dihedral_from_rgb(np.asarray(img))
    assert quality >= 50
    for position, name in enumerate(DIHEDRAL_TRANSFORMS, start=1):
        turned = np.asarray(img.transpose(PILLOW[name]))
        own, _ = pdq_from_rgb(turned)
        distances = [pdq_distance(own, h) for h in hexes]
        assert distances.index(min(distances)) == position and min(distances) <= 31, (name, distances)
        back, _ = pdq_dihedral_from_rgb(turned)
        undo = DIHEDRAL_TRANSFORMS.index(DIHEDRAL_INVERSE[name]) + 1
        assert pdq_distance(back[undo], hexes[0]) <= 31, name


def test_stored_value_round_trips() -> None:
    hexes, _ = pdq_dihedral_from_rgb(demo_picture("scene", 200, 150, 9))
    value = dihedral_value(hexes[1:])
    assert len(value) == 7 * 64 + 6
    assert dihedral_variants(value) == list(zip(DIHEDRAL_TRANSFORMS, hexes[1:], strict=True))
    assert dihedral_variants(value.upper()) == dihedral_variants(value)
    for bad in ("", value[:-1], value + ",", value.replace(",", ";"), "g" + value[1:], " " + value[2:]):
        assert dihedral_variants(bad) is None, bad
    with pytest.raises(ValueError):
        dihedral_value(hexes)


def _item(name: str, data: bytes) -> EvidenceItem:
    return EvidenceItem(Locator((name,)), ItemMeta(size=len(data)), data=data)


def test_scan_stores_the_variants_with_the_quality() -> None:
    img = draw_picture(np.random.default_rng(5), 320, 240, "scene")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    result = process_item(_item("scene.png", buf.getvalue()), ScanSettings())
    hexes, quality = reference(np.asarray(img.convert("RGB")))
    assert result.hashes["pdq"] == hexes[0] and result.hashes[DIHEDRAL_KIND] == ",".join(hexes[1:])
    assert result.hash_quality == {"pdq": quality, DIHEDRAL_KIND: quality}


def test_fast_pdq_variants_come_from_the_same_reduced_decode() -> None:
    """--fast-pdq hashes a reduced decode: its variants are that decode's (consistent with its PDQ, each near the
    full decode's variant), never a mix of the two decodes."""
    img = draw_picture(np.random.default_rng(2), 2400, 1800, "scene")
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    exact = process_item(_item("x.jpg", buf.getvalue()), ScanSettings())
    fast = process_item(_item("x.jpg", buf.getvalue()), ScanSettings(fast_pdq=True))
    assert fast.image is not None and fast.image.width == 2400
    with Image.open(io.BytesIO(buf.getvalue())) as reduced:
        scale = fast_pdq_scale(2400, 1800)
        assert scale > 1
        reduced.draft("RGB", (2400 // scale, 1800 // scale))
        hexes, quality = reference(np.asarray(reduced.convert("RGB")))
    assert fast.hashes["pdq"] == hexes[0] and fast.hashes[DIHEDRAL_KIND] == ",".join(hexes[1:])
    assert fast.hash_quality[DIHEDRAL_KIND] == quality
    fast_variants = dihedral_variants(fast.hashes[DIHEDRAL_KIND]) or []
    exact_variants = dihedral_variants(exact.hashes[DIHEDRAL_KIND]) or []
    assert len(fast_variants) == len(exact_variants) == 7
    for (name, a), (_, b) in zip(fast_variants, exact_variants, strict=True):
        assert pdq_distance(a, b) <= 31, name
