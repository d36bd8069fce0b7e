"""Benign synthetic pictures (shapes, gradients, noise, text cards) and deterministic encoders.

Every picture is drawn from a seeded ``numpy.random.Generator`` only; encoders pass fixed options and
no time-bearing metadata, so the same generator state always gives the same bytes. The ``pictures``
contributor writes the fixed set of formats, pixel modes, an EXIF photo and a few very large pictures.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from cairn.demo.context import DemoContext, contributor
from cairn.demo.manifest import ANIMATED, EXIF, IMAGE, LARGE, MULTIPAGE, DemoEntry

#: Benign captions and labels rendered into some pictures.
CAPTIONS = (
    "a red bicycle on a beach",
    "Receipt 0423",
    "Invoice 2021-118",
    "blue teapot on a table",
    "mountain lake at dawn",
    "Parking ticket 5531",
    "yellow kite over a field",
    "Grocery list",
    "Boarding pass GATE B12",
    "green tractor in the rain",
    "Meeting notes: Q3 budget",
    "sunflowers by a fence",
)

#: File extension used for each format name the encoders know.
EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "gif": "gif", "bmp": "bmp", "tiff": "tif"}

_PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF", "bmp": "BMP", "tiff": "TIFF"}


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in rng.integers(0, 256, size=3))
    return (r, g, b)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(max(8, size))


def _gradient(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A linear gradient at a random angle between two random colours."""
    angle = float(rng.uniform(0.0, 2.0 * np.pi))
    c0 = np.array(_colour(rng), dtype=np.float32)
    c1 = np.array(_colour(rng), dtype=np.float32)
    ys = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]
    xs = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
    t = (xs * np.float32(np.cos(angle)) + ys * np.float32(np.sin(angle))) * np.float32(127.5) + np.float32(127.5)
    index = np.clip(t, 0.0, 255.0).astype(np.uint8)
    steps = np.linspace(0.0, 1.0, 256, dtype=np.float32)[:, None]
    lut = (c0 * (1.0 - steps) + c1 * steps).astype(np.uint8)
    return Image.fromarray(lut[index], "RGB")


def _blobs(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """Smooth colour noise: a tiny random image scaled up."""
    gw, gh = (int(v) for v in rng.integers(3, 9, size=2))
    small = rng.integers(0, 256, size=(gh, gw, 3), dtype=np.uint8)
    return Image.fromarray(small, "RGB").resize((w, h), Image.Resampling.BICUBIC)


def _stripes(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    img = Image.new("RGB", (w, h), _colour(rng))
    draw = ImageDraw.Draw(img)
    n = int(rng.integers(3, 12))
    step = max(1, (w + h) // n)
    width = max(1, step // 2)
    offset = int(rng.integers(0, step))
    colour = _colour(rng)
    for i in range(-1, n + 2):
        x = i * step + offset
        draw.line([(x, 0), (x - h, h)], fill=colour, width=width)
    return img


def _noise(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """Fine grain noise over a random base colour (sensor-noise look)."""
    base = np.array(_colour(rng), dtype=np.int16)
    grain = rng.integers(-40, 41, size=(h, w, 1), dtype=np.int16)
    arr = np.clip(base + grain, 0, 255).astype(np.uint8)
    return Image.fromarray(arr, "RGB")


def _shapes(rng: np.random.Generator, img: Image.Image, count: int) -> None:
    draw = ImageDraw.Draw(img)
    w, h = img.size
    for _ in range(count):
        kind = int(rng.integers(0, 4))
        x0, x1 = sorted(int(v) for v in rng.integers(-w // 8, w + w // 8, size=2))
        y0, y1 = sorted(int(v) for v in rng.integers(-h // 8, h + h // 8, size=2))
        x1, y1 = max(x1, x0 + max(2, w // 10)), max(y1, y0 + max(2, h // 10))
        fill = _colour(rng)
        if kind == 0:
            draw.ellipse([x0, y0, x1, y1], fill=fill)
        elif kind == 1:
            draw.rectangle([x0, y0, x1, y1], fill=fill)
        elif kind == 2:
            pts = [(int(rng.integers(0, w)), int(rng.integers(0, h))) for _ in range(int(rng.integers(3, 7)))]
            draw.polygon(pts, fill=fill)
        else:
            draw.line([x0, y0, x1, y1], fill=fill, width=max(1, min(w, h) // 20))


def _text(rng: np.random.Generator, img: Image.Image, lines: list[str]) -> None:
    draw = ImageDraw.Draw(img)
    w, h = img.size
    size = max(8, min(h // (len(lines) + 2), w // 14))
    font = _font(size)
    x = int(rng.integers(0, max(1, w // 6)))
    y = int(rng.integers(0, max(1, h // 6)))
    fill = _colour(rng)
    for line in lines:
        draw.text((x, y), line, fill=fill, font=font)
        y += int(size * 1.3)


def _receipt(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A text card: paper colour, a coloured header block, a few benign lines."""
    paper = tuple(int(v) for v in rng.integers(215, 256, size=3))
    img = Image.new("RGB", (w, h), (paper[0], paper[1], paper[2]))
    draw = ImageDraw.Draw(img)
    bh = int(h * rng.uniform(0.1, 0.35))
    by = int(rng.integers(0, max(1, h - bh)))
    draw.rectangle([0, by, w, by + bh], fill=_colour(rng))
    head = CAPTIONS[int(rng.integers(0, len(CAPTIONS)))]
    lines = [head] + [f"Item {int(rng.integers(1, 99)):02d}  {rng.uniform(1, 90):.2f}" for _ in range(3)]
    _text(rng, img, lines)
    _shapes(rng, img, int(rng.integers(1, 3)))
    return img


def _scene(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """Large overlapping shapes kept off the borders on a gradient, lightly blurred.

    Its PDQ hash is stable under the edits ``variants`` makes (small crops, resizing, recompression),
    so near-duplicates are always drawn from this style.
    """
    img = _gradient(rng, w, h)
    draw = ImageDraw.Draw(img)
    s = min(w, h)
    for _ in range(int(rng.integers(5, 11))):
        cx, cy = int(rng.uniform(0.2, 0.8) * w), int(rng.uniform(0.2, 0.8) * h)
        rx, ry = int(rng.uniform(0.1, 0.3) * s), int(rng.uniform(0.1, 0.3) * s)
        box = [cx - rx, cy - ry, cx + rx, cy + ry]
        if rng.random() < 0.5:
            draw.ellipse(box, fill=_colour(rng))
        else:
            draw.rectangle(box, fill=_colour(rng))
    return img.filter(ImageFilter.GaussianBlur(max(1.0, s / 100)))


STYLES = ("gradient", "blobs", "stripes", "noise", "receipt", "scene")


def draw_picture(rng: np.random.Generator, w: int, h: int, style: str | None = None) -> Image.Image:
    """Draw a benign RGB picture of ``w`` x ``h``; ``style`` is one of ``STYLES`` or random."""
    style = style or STYLES[int(rng.integers(0, len(STYLES)))]
    if style == "receipt":
        return _receipt(rng, w, h)
    if style == "scene":
        return _scene(rng, w, h)
    if style == "gradient":
        img = _gradient(rng, w, h)
    elif style == "blobs":
        img = _blobs(rng, w, h)
    elif style == "stripes":
        img = _stripes(rng, w, h)
    elif style == "noise":
        img = _noise(rng, w, h)
    else:
        raise ValueError(f"unknown picture style {style!r}")
    _shapes(rng, img, int(rng.integers(3, 9)))
    if rng.random() < 0.3:
        _text(rng, img, [CAPTIONS[int(rng.integers(0, len(CAPTIONS)))]])
    return img


def encode(img: Image.Image, fmt: str, **options: Any) -> bytes:
    """Encode ``img`` as ``fmt`` (a key of ``EXTENSIONS``) with fixed, metadata-free settings."""
    defaults: dict[str, dict[str, Any]] = {
        "jpeg": {"quality": 88},
        "png": {"compress_level": 6},
        "webp": {"quality": 80, "method": 4},
        "gif": {},
        "bmp": {},
        "tiff": {"compression": "tiff_lzw"},
    }
    opts = {**defaults[fmt], **options}
    if fmt == "gif" and img.mode not in ("P", "L", "1"):
        img = img.convert("P", palette=Image.Palette.ADAPTIVE, colors=128)
    bio = io.BytesIO()
    img.save(bio, _PIL_FORMAT[fmt], **opts)
    return bio.getvalue()


def random_size(rng: np.random.Generator, lo: int = 96, hi: int = 800) -> tuple[int, int]:
    """A plausible picture size: random long side in [lo, hi], common aspect ratios."""
    long = int(rng.integers(lo, hi + 1))
    ratio = (1.0, 4 / 3, 3 / 2, 16 / 9)[int(rng.integers(0, 4))]
    short = max(16, int(long / ratio))
    return (long, short) if rng.random() < 0.7 else (short, long)


def camera_exif(orientation: int = 6) -> Image.Exif:
    """EXIF of a fictional camera: make, model, fixed DateTimeOriginal and ``orientation``."""
    exif = Image.Exif()
    exif[0x010F] = "Cairn Optics"  # Make
    exif[0x0110] = "DemoCam 7"  # Model
    exif[0x0112] = orientation  # Orientation
    exif[0x0131] = "cairn demo"  # Software
    ifd = exif.get_ifd(0x8769)  # Exif IFD
    ifd[0x9003] = "2021:07:14 10:22:31"  # DateTimeOriginal
    ifd[0x9004] = "2021:07:14 10:22:31"  # DateTimeDigitized
    return exif


# Fixed folders of the "seized drive".
DCIM = "DCIM/100CAMERA"
DCIM2 = "DCIM/101CAMERA"
HOLIDAY = "Users/alex/Pictures/holiday"
SUMMER = "Users/alex/Pictures/Été 2021/Plage"
DESKTOP = "Users/alex/Desktop"
DOCS = "Users/alex/Documents/Quittungen – März"
DOWNLOADS = "Downloads"
SAM = "Users/sam/Downloads/new folder (2)"


@contributor("pictures")
def pictures(ctx: DemoContext) -> list[DemoEntry]:
    """Formats, pixel modes, an EXIF photo, an animated GIF, a multi-page TIFF and large pictures."""
    rng = ctx.rng("pictures")
    out: list[DemoEntry] = []

    def put(rel: str, data: bytes, fmt: str, *roles: str) -> None:
        out.append(ctx.write(rel, data, fmt, (IMAGE, *roles)))
        ctx.report(len(out))

    # One picture per common format, in assorted sizes and folders.
    put(f"{DCIM}/IMG_0001.JPG", encode(draw_picture(rng, 1024, 768), "jpeg"), "jpeg")
    put(f"{HOLIDAY}/beach.png", encode(draw_picture(rng, 640, 480), "png"), "png")
    put(f"{SUMMER}/sunset.webp", encode(draw_picture(rng, 800, 533), "webp"), "webp")
    put(f"{DESKTOP}/icon.gif", encode(draw_picture(rng, 64, 64), "gif"), "gif")
    put(f"{DESKTOP}/old scan.bmp", encode(draw_picture(rng, 300, 200), "bmp"), "bmp")
    put(f"{DOCS}/scan_0001.tif", encode(draw_picture(rng, 500, 700, "receipt"), "tiff"), "tiff")
    put(f"{DOWNLOADS}/tiny.png", encode(draw_picture(rng, 17, 11), "png"), "png")
    put(f"{SAM}/banner.jpg", encode(draw_picture(rng, 1200, 150), "jpeg"), "jpeg")

    # Pixel modes real drives hold.
    base = draw_picture(rng, 400, 300)
    palette = base.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    put(f"{HOLIDAY}/palette.png", encode(palette, "png"), "png", "mode:P")
    put(f"{DCIM2}/grey.jpg", encode(draw_picture(rng, 480, 360).convert("L"), "jpeg"), "jpeg", "mode:L")
    rgba = draw_picture(rng, 320, 320).convert("RGBA")
    alpha = Image.linear_gradient("L").resize(rgba.size)
    rgba.putalpha(alpha)
    put(f"{DESKTOP}/sticker.png", encode(rgba, "png"), "png", "mode:RGBA")
    cmyk = draw_picture(rng, 420, 297).convert("CMYK")
    put(f"{DOCS}/print proof.jpg", encode(cmyk, "jpeg"), "jpeg", "mode:CMYK")
    grey16 = np.asarray(draw_picture(rng, 256, 256, "gradient").convert("L"), dtype=np.uint16) * 257
    put(f"{DOCS}/xray-like.png", encode(Image.fromarray(grey16), "png"), "png", "mode:I;16")
    bilevel = draw_picture(rng, 600, 400, "receipt").convert("L").point(lambda v: 255 if v > 160 else 0)
    put(f"{DOCS}/fax.png", encode(bilevel.convert("1"), "png"), "png", "mode:1")

    # A camera photo with EXIF (Orientation 6, fixed DateTimeOriginal).
    photo = draw_picture(rng, 960, 720, "blobs")
    put(f"{DCIM}/IMG_0002.JPG", encode(photo, "jpeg", exif=camera_exif(6)), "jpeg", EXIF)

    # Animated GIF and multi-page TIFF.
    frames = [draw_picture(rng, 160, 120) for _ in range(4)]
    pframes = [f.convert("P", palette=Image.Palette.ADAPTIVE, colors=64) for f in frames]
    gif = io.BytesIO()
    pframes[0].save(gif, "GIF", save_all=True, append_images=pframes[1:], duration=200, loop=0)
    put(f"{DOWNLOADS}/spinner.gif", gif.getvalue(), "gif", ANIMATED, "frames:4")
    pages = [draw_picture(rng, 400, 560, "receipt") for _ in range(3)]
    tif = io.BytesIO()
    pages[0].save(tif, "TIFF", save_all=True, append_images=pages[1:], compression="tiff_lzw")
    put(f"{DOCS}/statement.tif", tif.getvalue(), "tiff", MULTIPAGE, "frames:3")

    # Very large pictures: one always, three more from 1,000 entries up (they are slow to scan).
    put(f"{DCIM}/IMG_0003.JPG", encode(draw_picture(rng, 4032, 3024, "blobs"), "jpeg"), "jpeg", LARGE)
    if ctx.target >= 1000:
        put(
            f"{HOLIDAY}/panorama.jpg",
            encode(draw_picture(rng, 6000, 1500, "gradient"), "jpeg"),
            "jpeg",
            LARGE,
        )
        put(f"{DESKTOP}/wallpaper.png", encode(draw_picture(rng, 3840, 2160, "gradient"), "png"), "png", LARGE)
        put(f"{SUMMER}/drone.webp", encode(draw_picture(rng, 3200, 3200, "blobs"), "webp"), "webp", LARGE)
    return out
