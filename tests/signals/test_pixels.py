"""cairn.signals.pixels.to_rgb: every Pillow mode hashes as the same RGB picture.

Each benign picture (gradients, shapes, noise) is converted to every mode, in memory and through real
encoders (CMYK JPEG, palette PNG, 16-bit PNG, LA/RGBA PNG, TIFF with F and I), reopened, normalised
with ``to_rgb`` and hashed; the PDQ must stay within a few bits of the RGB original. The reference
``pdq_from_file`` path is shown to be far off for CMYK JPEG and palette PNG, which is why this exists.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image
from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_file

from cairn.signals.pdq import pdq_distance, pdq_from_rgb
from cairn.signals.pixels import to_rgb

U8 = npt.NDArray[np.uint8]
MAX_BITS = 8
#: Adaptive 256-colour quantisation really changes the picture (posterisation, dithering noise); the
#: normalisation itself is exact there (see test_palette_lookup_is_exact), the bound is the picture's.
QUANTISED_MAX_BITS = 12


def picture(h: int, w: int, seed: int) -> U8:
    """A benign RGB picture: colour gradients, a few flat shapes, mild noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    yn, xn = y / (h - 1), x / (w - 1)
    img = np.stack([40 + 180 * xn, 30 + 200 * yn, 128 + 100 * np.sin(5 * xn - 3 * yn + seed)], axis=-1)
    for _ in range(8):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.04, 0.2) * max(h, w)
        if rng.random() < 0.5:
            mask = (y - cy) ** 2 + (x - cx) ** 2 < r**2
        else:
            mask = (abs(y - cy) < r / 2) & (abs(x - cx) < r)
        img[mask] = rng.integers(20, 236, 3)
    img += rng.normal(0, 6, img.shape)
    out: U8 = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return out


@pytest.fixture(scope="module", params=[(480, 640, 1), (2000, 3000, 2), (768, 1024, 3)], ids=str)
def original(request: pytest.FixtureRequest) -> Image.Image:
    h, w, seed = request.param
    return Image.fromarray(picture(h, w, seed))


def hash_of(img: Image.Image) -> str:
    return pdq_from_rgb(to_rgb(img))[0]


def reopen(img: Image.Image, fmt: str, **params: object) -> Image.Image:
    buf = io.BytesIO()
    if fmt == "PNG":
        params.setdefault("compress_level", 1)
    img.save(buf, format=fmt, **params)
    out = Image.open(io.BytesIO(buf.getvalue()))
    out.load()
    return out


def grey_u8(rgb: Image.Image) -> U8:
    return np.asarray(rgb.convert("L"))


def adaptive_palette(rgb: Image.Image) -> Image.Image:
    """A 256-colour adaptive palette picture, Floyd-Steinberg dithered (as GIF/PNG8 tools make)."""
    return rgb.quantize(palette=rgb.quantize(256), dither=Image.Dither.FLOYDSTEINBERG)


def alpha_ramp(img: Image.Image) -> Image.Image:
    w, h = img.size
    ramp = np.tile(np.linspace(0, 255, w).astype(np.uint8), (h, 1))
    return Image.fromarray(ramp, mode="L")


MAKERS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "L": lambda im: im.convert("L"),
    "LA": lambda im: Image.merge("LA", (im.convert("L"), alpha_ramp(im))),
    "P-web": lambda im: im.convert("P"),
    "P-adaptive": adaptive_palette,
    "PA": lambda im: adaptive_palette(im).convert("PA"),
    "RGBA": lambda im: Image.merge("RGBA", (*im.split(), alpha_ramp(im))),
    "RGBX": lambda im: im.convert("RGBX"),
    "CMYK": lambda im: im.convert("CMYK"),
    "YCbCr": lambda im: im.convert("YCbCr"),
    "LAB": lambda im: im.convert("LAB"),
    "HSV": lambda im: im.convert("HSV"),
    "I-8bit": lambda im: im.convert("I"),
    "I-16bit": lambda im: Image.fromarray(grey_u8(im).astype(np.int32) * 257),
    "I;16": lambda im: Image.fromarray(grey_u8(im).astype(np.uint16) * 257),
    "I;16B": lambda im: Image.frombytes("I;16B", im.size, (grey_u8(im).astype(">u2") * 257).tobytes()),
    "I;16L": lambda im: Image.frombytes("I;16L", im.size, (grey_u8(im).astype("<u2") * 257).tobytes()),
    "F": lambda im: im.convert("F"),
    # encoders
    "CMYK-JPEG": lambda im: reopen(im.convert("CMYK"), "JPEG", quality=95),
    "RGB-JPEG": lambda im: reopen(im, "JPEG", quality=90),
    "P-PNG": lambda im: reopen(adaptive_palette(im), "PNG"),
    "I;16-PNG": lambda im: reopen(Image.fromarray(grey_u8(im).astype(np.uint16) * 257), "PNG"),
    "LA-PNG": lambda im: reopen(Image.merge("LA", (im.convert("L"), alpha_ramp(im))), "PNG"),
    "RGBA-PNG": lambda im: reopen(Image.merge("RGBA", (*im.split(), alpha_ramp(im))), "PNG"),
    "F-TIFF": lambda im: reopen(im.convert("F"), "TIFF"),
    "I-TIFF": lambda im: reopen(Image.fromarray(grey_u8(im).astype(np.int32) * 257), "TIFF"),
    "CMYK-TIFF": lambda im: reopen(im.convert("CMYK"), "TIFF"),
}


#: The mode each maker really yields (the encoders reopen as these), where it differs from the name's prefix.
EXPECTED_MODE = {"P-web": "P", "P-adaptive": "P", "I-8bit": "I", "I-16bit": "I", "RGB-JPEG": "RGB"}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_every_mode_hashes_like_rgb(original: Image.Image, name: str) -> None:
    converted = MAKERS[name](original)
    assert converted.mode == EXPECTED_MODE.get(name, name.split("-")[0]), name
    distance = pdq_distance(hash_of(converted), hash_of(original))
    bound = QUANTISED_MAX_BITS if name in ("P-adaptive", "PA", "P-PNG") else MAX_BITS
    assert distance <= bound, (name, converted.mode, distance)


def test_palette_lookup_is_exact(original: Image.Image) -> None:
    pal = reopen(adaptive_palette(original), "PNG")
    assert pal.mode == "P"
    lut = np.asarray(pal.getpalette("RGB"), dtype=np.uint8).reshape(-1, 3)
    assert np.array_equal(to_rgb(pal), lut[np.asarray(pal)])


def test_rgb_and_l_are_passed_through_exactly(original: Image.Image, tmp_path: Path) -> None:
    rgb = to_rgb(original)
    assert np.array_equal(rgb, np.asarray(original))
    for mode in ("RGB", "L", "RGBA", "LA"):
        img = original if mode == "RGB" else MAKERS[mode](original)
        path = tmp_path / f"x-{mode}.png"
        img.save(path, compress_level=1)
        with Image.open(path) as reopened:
            assert pdq_from_rgb(to_rgb(reopened)) == pdq_from_file(path), mode


def test_reference_path_is_far_off_for_cmyk_jpeg_and_palette_png(original: Image.Image, tmp_path: Path) -> None:
    rgb_hash = hash_of(original)
    cmyk = tmp_path / "cmyk.jpg"
    original.convert("CMYK").save(cmyk, quality=95)
    palette = tmp_path / "palette.png"
    adaptive_palette(original).save(palette, compress_level=1)
    for path, bound in ((cmyk, MAX_BITS), (palette, QUANTISED_MAX_BITS)):
        with Image.open(path) as img:
            assert pdq_distance(hash_of(img), rgb_hash) <= bound
        assert pdq_distance(pdq_from_file(path)[0], rgb_hash) > 30, path.name


def test_mode_1_is_exact_for_a_black_and_white_picture() -> None:
    bw = (picture(300, 400, 5)[:, :, 0] > 128).astype(np.uint8) * 255
    as_l = Image.fromarray(bw)
    as_1 = as_l.convert("1", dither=Image.Dither.NONE)
    assert as_1.mode == "1"
    assert pdq_from_rgb(to_rgb(as_1)) == pdq_from_rgb(to_rgb(as_l))
    assert pdq_from_rgb(to_rgb(reopen(as_1, "PNG"))) == pdq_from_rgb(to_rgb(as_l))


def test_value_conventions() -> None:
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert np.array_equal(to_rgb(Image.fromarray(grey.astype(np.uint16) * 257)), grey)
    assert np.array_equal(to_rgb(Image.fromarray(grey.astype(np.int32))), grey)
    assert np.array_equal(to_rgb(Image.fromarray(grey.astype(np.int32) * 257)), grey)
    assert np.array_equal(to_rgb(Image.fromarray(grey).convert("F")), grey)
    f = np.array([[-5.0, np.nan, 300.0, 127.6]], dtype=np.float32)
    assert to_rgb(Image.fromarray(f)).tolist() == [[0, 0, 255, 128]]
    rgba = Image.new("RGBA", (8, 8), (10, 20, 30, 0))
    assert to_rgb(rgba)[0, 0].tolist() == [10, 20, 30]  # alpha dropped, not composited
