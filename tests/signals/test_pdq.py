"""cairn.signals.pdq: bit-identical to pdqhash / threatexchange on generated benign pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image
from threatexchange.signal_type.pdq.pdq_hasher import _pdq_from_numpy_array, pdq_from_file

from cairn.signals.pdq import PDQ_IMPLEMENTATION, pdq_distance, pdq_from_rgb
from cairn.signals.pdq.reference import pdq_hash_numpy

U8 = npt.NDArray[np.uint8]


def picture(h: int, w: int, kind: str, seed: int) -> U8:
    """A benign H x W x 3 test picture: gradient, shapes, noise, flat colour or a mix."""
    rng = np.random.default_rng(seed)
    if kind == "noise":
        return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    if kind == "flat":
        return np.full((h, w, 3), rng.integers(0, 256, 3), dtype=np.uint8)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    yn, xn = y / max(h - 1, 1), x / max(w - 1, 1)
    img = np.stack([255 * xn, 255 * yn, 127 + 127 * np.sin(6 * xn + 4 * yn + seed)], axis=-1)
    if kind in ("shapes", "mix"):
        for _ in range(6):
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            r = rng.uniform(0.05, 0.3) * max(h, w)
            if rng.random() < 0.5:
                mask = (y - cy) ** 2 + (x - cx) ** 2 < r**2
            else:
                mask = (abs(y - cy) < r / 2) & (abs(x - cx) < r)
            img[mask] = rng.integers(0, 256, 3)
    if kind == "mix":
        img += rng.normal(0, 12, img.shape)
    out: U8 = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return out


def reference(pixels: U8) -> tuple[str, int]:
    """pdqhash.compute, turned into hex exactly as threatexchange does."""
    rgb = np.dstack([pixels] * 3) if pixels.ndim == 2 else pixels
    hex_, quality = _pdq_from_numpy_array(rgb)
    return str(hex_), int(quality)


SIZES = [
    (5, 5), (6, 7), (9, 5), (31, 17), (63, 64), (64, 63), (64, 65), (65, 64), (100, 100), (127, 129),
    (128, 128), (129, 257), (255, 256), (256, 255), (480, 640), (601, 399), (1023, 769), (7, 1500),
    (1500, 7), (13, 2999), (2001, 11),
]  # fmt: skip
KINDS = ["noise", "gradient", "shapes", "mix", "flat"]


def test_c_extension_is_used() -> None:
    assert PDQ_IMPLEMENTATION == "c"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("h", "w"), SIZES)
def test_rgb_bit_identical(h: int, w: int, kind: str) -> None:
    pixels = picture(h, w, kind, seed=h * 7919 + w)
    assert pdq_from_rgb(pixels) == reference(pixels)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("h", "w"), [(5, 5), (64, 64), (77, 300), (480, 640), (999, 333)])
def test_grey_bit_identical(h: int, w: int, kind: str) -> None:
    grey = np.ascontiguousarray(picture(h, w, kind, seed=h + w)[:, :, 1])
    assert pdq_from_rgb(grey) == reference(grey)


@pytest.mark.parametrize("kind", ["noise", "mix", "shapes", "gradient"])
def test_64x64_special_path(kind: str) -> None:
    for seed in range(5):
        pixels = picture(64, 64, kind, seed)
        assert pdq_from_rgb(pixels) == reference(pixels)


@pytest.mark.parametrize(("h", "w"), [(3000, 4000), (3001, 2003), (4321, 57), (40, 6000)])
def test_large_bit_identical(h: int, w: int) -> None:
    pixels = picture(h, w, "mix", seed=h ^ w)
    assert pdq_from_rgb(pixels) == reference(pixels)


@pytest.mark.parametrize(("h", "w"), [(4, 4), (4, 100), (100, 4), (1, 1), (1, 50), (50, 1), (2, 3)])
def test_tiny_is_zero(h: int, w: int) -> None:
    pixels = picture(h, w, "noise", seed=1)
    assert pdq_from_rgb(pixels) == ("0" * 64, 0) == reference(pixels)


def test_empty_is_zero() -> None:
    assert pdq_from_rgb(np.zeros((0, 10, 3), dtype=np.uint8)) == ("0" * 64, 0)


def test_any_strides() -> None:
    base = picture(700, 900, "mix", seed=3)
    rgba = np.dstack([base, np.full(base.shape[:2], 200, np.uint8)])
    views: list[U8] = [
        base[::2, ::3],
        base[::-1, ::-1],
        base[:, :, ::-1],  # BGR view: negative channel stride
        np.asfortranarray(base),
        rgba[:, :, :3],  # pixel stride 4
        base[50:650, 100:800],
        base.transpose(1, 0, 2),
    ]
    for view in views:
        assert pdq_from_rgb(view) == reference(np.ascontiguousarray(view))
    assert pdq_from_rgb(rgba) == reference(rgba)
    grey = np.ascontiguousarray(base[:, :, 0])
    for gview in (grey[::3, ::2], grey.T, grey[::-1]):
        assert pdq_from_rgb(gview) == reference(np.ascontiguousarray(gview))


@pytest.mark.parametrize(("h", "w"), [(5, 5), (64, 64), (9, 140), (150, 97), (130, 260)])
@pytest.mark.parametrize("kind", ["noise", "mix", "flat"])
def test_numpy_reference_identical(h: int, w: int, kind: str) -> None:
    pixels = picture(h, w, kind, seed=h * w)
    expected = reference(pixels)
    assert pdq_hash_numpy(pixels) == expected
    grey = np.ascontiguousarray(pixels[:, :, 2])
    assert pdq_hash_numpy(grey) == reference(grey) == pdq_from_rgb(grey)


@pytest.mark.parametrize(("h", "w", "kind"), [(480, 640, "mix"), (333, 500, "shapes"), (1200, 1600, "gradient")])
def test_matches_threatexchange_pdq_from_file(tmp_path: Path, h: int, w: int, kind: str) -> None:
    path = tmp_path / "picture.png"
    Image.fromarray(picture(h, w, kind, seed=w)).save(path)
    with Image.open(path) as img:
        pixels = np.asarray(img.convert("RGB"))
    hex_, quality = pdq_from_file(path)
    assert pdq_from_rgb(pixels) == (hex_, quality)


def test_luma_identity_exhaustive() -> None:
    """The C core computes luma as float32(299R + 587G + 114B) / 1000; check it for all 2^24 triples."""
    g, b = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    g8, b8 = g.astype(np.uint8), b.astype(np.uint8)
    n_gb = 587 * g + 114 * b
    for r in range(256):
        r8 = np.full_like(g8, r)
        ref = (r8 * 0.299 + g8 * 0.587 + b8 * 0.114).astype(np.float32)
        alt = (299 * r + n_gb).astype(np.float32) / np.float32(1000)
        assert np.array_equal(ref, alt), r


def test_bad_input() -> None:
    with pytest.raises(TypeError):
        pdq_from_rgb(np.zeros((10, 10, 3), dtype=np.float32))  # type: ignore[arg-type,unused-ignore]
    with pytest.raises(ValueError):
        pdq_from_rgb(np.zeros((10, 10, 2), dtype=np.uint8))
    with pytest.raises(ValueError):
        pdq_from_rgb(np.zeros((10,), dtype=np.uint8))


def test_distance() -> None:
    a = picture(300, 400, "mix", seed=11)
    ha, _ = pdq_from_rgb(a)
    assert pdq_distance(ha, ha) == 0
    assert pdq_distance("0" * 64, "f" * 64) == 256
    assert pdq_distance("0" * 63 + "7", "0" * 64) == 3
    flipped, _ = pdq_from_rgb(255 - a)  # negative: (nearly) every bit flips
    assert pdq_distance(ha, flipped) > 200
    with pytest.raises(ValueError):
        pdq_distance("abc", ha)
