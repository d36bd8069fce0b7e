"""The one decode of an image: open, check limits, read info and EXIF, load pixels once, normalise to RGB.

Every image signal works from the ``DecodedImage`` made here; nothing decodes a picture twice.
EXIF orientation is recorded, never applied: hash lists from other tools hash the stored pixels.

Memory: before any pixel is decoded, :func:`decode_cost` estimates the bytes the decode will hold at its
peak (Pillow's pixels, the one normalised copy ``pixels.normalise`` may make, the decoder's own
whole-picture buffers, PDQ's working rows). Over ``Limits.decode_memory_budget`` (bytes per worker), a
JPEG or JPEG 2000 is decoded at the smallest reduced scale (1/2, 1/4, 1/8) that fits, with an
``image_reduced_decode`` note saying PDQ and the thumbnail came from that decode; any other picture is
refused with ``image_bomb`` (hashed, not decoded). The original decode is released once normalised, so
one full-size copy of the pixels is held while the signals run.

PNG metadata: a text or ICC chunk that Pillow refuses (decompressing past ``PngImagePlugin.MAX_TEXT_CHUNK``,
or text beyond ``MAX_TEXT_MEMORY`` in all: a 97 KB file can hold a 100 MB zTXt) would cost the picture its
pixels. Such chunks are left out of a copy of the bytes that is decoded instead, with an
``image_chunk_skipped`` note; Pillow's limits are never raised. Digests are always of the file as it is.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from PIL import Image, PngImagePlugin, UnidentifiedImageError

from cairn import errors
from cairn.model import ImageInfo, ItemError
from cairn.settings import ScanSettings, decode_memory_budget
from cairn.signals import filetype
from cairn.signals.base import DecodedImage
from cairn.signals.pixel_memory import configure_pillow_memory
from cairn.signals.pixels import normalise, normalised_bytes_per_pixel, stored_bytes_per_pixel

#: cairn enforces its own pixel limit (``Limits.max_image_pixels``) before any pixel is decoded; Pillow's
#: own check is switched on, at that limit, only while cairn decodes (``_pillow_bomb_guard``), so that a
#: plugin that allocates while *opening* (GIF's disposal canvas: a 1.8 KB GIF declaring 61640x83916 took
#: 3 GB in ``Image.open``) refuses too, and Pillow's global setting is left as it was found.
Image.MAX_IMAGE_PIXELS = None


@contextmanager
def _pillow_bomb_guard(limit: int) -> Iterator[None]:
    """While inside, Pillow raises ``DecompressionBombError`` for anything it sizes above ``limit`` pixels.

    Pillow raises above twice ``MAX_IMAGE_PIXELS`` (and only warns between; warnings are silenced here).
    """
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max(1, limit // 2)
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


configure_pillow_memory()

#: Short side below which --fast-pdq never reduces a JPEG (Meta's tool hashes at 512x512).
FAST_PDQ_MIN_SIDE = 512
#: Short side --fast-pdq keeps when the picture is large enough: a quarter-scale decode of a 4000x3000
#: photo drifts up to ~12 bits from the reference, a half-scale one ~2 (docs/benchmarks.md).
FAST_PDQ_TARGET_SIDE = 1024

_ORIENTATION_TAG = 0x0112

#: Bytes a decoder holds per pixel beside Pillow's image (row buffers, the thumbnail's reduction: 2 by
#: default). libwebp's animation decoder (Pillow's only WebP path) keeps two RGBA canvases and hands Pillow a
#: copy of one: a 14142x14142 WebP peaked at 16 B/px. Calibrated against peak RSS (tests/signals/test_decode_memory.py).
DECODER_BYTES_PER_PIXEL = {"WEBP": 14}
DEFAULT_DECODER_BYTES_PER_PIXEL = 2
#: Copies of the file's bytes a decode may hold (the task's, a decoder's read buffer).
FILE_COPIES = 2
#: Reductions a format can decode at directly, without decoding the full picture first.
REDUCED_SCALES = {"JPEG": (2, 4, 8), "JPEG2000": (2, 4, 8)}


@dataclass
class DecodeOutcome:
    """What decoding produced: info when the header was readable, pixels when the decode succeeded."""

    info: ImageInfo | None = None
    decoded: DecodedImage | None = None
    errors: list[ItemError] = field(default_factory=list)


def _frame_count(im: Image.Image) -> int:
    try:
        return int(getattr(im, "n_frames", 1))
    except Exception:  # a damaged later frame must not cost us the first one
        return 1


def _exif(im: Image.Image, loaded: bool) -> tuple[bytes | None, int | None]:
    """(raw EXIF block, orientation); never raises: damaged metadata must not cost the picture.

    With ``loaded`` False the pixels are never decoded here (PNG's ``getexif`` would decode them to find
    an eXIf chunk after the image data): only EXIF already read with the header is used.
    """
    raw = im.info.get("exif")
    raw = raw if isinstance(raw, bytes) else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if loaded or im.format != "PNG":
                exif = im.getexif()
            else:
                exif = Image.Exif()
                if raw is not None:
                    exif.load(raw)
            orientation = exif.get(_ORIENTATION_TAG)
        except Exception:
            return raw, None
        if raw is None and len(exif):
            try:
                raw = exif.tobytes()  # TIFF: the IFD re-serialised; fails on some damaged tags
            except Exception:
                raw = None
    return raw, (int(orientation) if isinstance(orientation, int) else None)


def fast_pdq_scale(width: int, height: int) -> int:
    """The DCT-domain reduction (1, 2, 4 or 8) --fast-pdq asks for: the largest keeping the short side at
    ``FAST_PDQ_TARGET_SIDE`` where the picture allows it, else the largest keeping ``FAST_PDQ_MIN_SIDE``."""
    short = min(width, height)
    for floor in (FAST_PDQ_TARGET_SIDE, FAST_PDQ_MIN_SIDE):
        scale = 1
        while scale < 8 and short // (scale * 2) >= floor:
            scale *= 2
        if scale > 1:
            return scale
    return 1


def _draft_for_fast_pdq(im: Image.Image) -> float:
    """Ask the JPEG decoder for the --fast-pdq reduction; return the scale it gave."""
    width, height = im.size
    scale = fast_pdq_scale(width, height)
    if scale == 1:
        return 1.0
    request = (-(-width // scale), -(-height // scale))
    im.draft(im.mode if im.mode in ("RGB", "L", "CMYK") else "RGB", request)
    return im.size[0] / width


def decode_cost(mode: str, image_format: str | None, width: int, height: int, file_bytes: int = 0) -> int:
    """Bytes decoding a ``width x height`` ``mode`` picture of ``file_bytes`` holds at its peak: Pillow's
    pixels, the one normalised copy, the decoder's buffers, PDQ's working rows (an eighth of a byte a
    pixel) and the file's bytes."""
    pixels = width * height
    per_pixel = (
        stored_bytes_per_pixel(mode)
        + normalised_bytes_per_pixel(mode)
        + DECODER_BYTES_PER_PIXEL.get(image_format or "", DEFAULT_DECODER_BYTES_PER_PIXEL)
    )
    return pixels * per_pixel + pixels // 8 + FILE_COPIES * file_bytes


def _budget_scale(im: Image.Image, budget: int, file_bytes: int) -> int | None:
    """1 when the full decode fits ``budget``; else the smallest reduction of this format that fits; None
    when none does (or the format cannot decode reduced)."""
    width, height = im.size
    if decode_cost(im.mode, im.format, width, height, file_bytes) <= budget:
        return 1
    for scale in REDUCED_SCALES.get(im.format or "", ()):
        if decode_cost(im.mode, im.format, -(-width // scale), -(-height // scale), file_bytes) <= budget:
            return scale
    return None


def _reduce_decode(im: Image.Image, scale: int) -> None:
    """Ask the decoder to decode at 1/``scale`` (JPEG's DCT scaling, JPEG 2000's resolution levels)."""
    width, height = im.size
    if im.format == "JPEG":
        request = (max(1, width // scale), max(1, height // scale))
        im.draft(im.mode if im.mode in ("RGB", "L", "CMYK") else "RGB", request)
    elif im.format == "JPEG2000":
        im.reduce = scale.bit_length() - 1  # type: ignore[method-assign,assignment]  # Pillow's setter


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_CHUNKS = frozenset({b"tEXt", b"zTXt", b"iTXt"})
_METADATA_CHUNKS = _TEXT_CHUNKS | {b"iCCP"}


def _metadata_size(kind: bytes, body: bytes) -> int | None:
    """Bytes the value of a PNG metadata chunk (a kind in ``_METADATA_CHUNKS``) takes once read (None: over
    ``MAX_TEXT_CHUNK`` decompressed).

    Decompression stops at the limit, as Pillow's own check does, so a bomb costs at most that much here.
    """
    nul = body.find(b"\0")
    if nul < 0:
        return len(body)
    if kind == b"tEXt":
        return len(body) - nul - 1
    if kind == b"iTXt":
        if body[nul + 1 : nul + 2] != b"\x01":
            return len(body) - nul - 1
        rest = body[nul + 3 :]
        for _ in range(2):  # language tag, translated keyword
            cut = rest.find(b"\0")
            rest = rest[cut + 1 :] if cut >= 0 else b""
        compressed = rest
    else:  # zTXt, iCCP: name, NUL, method, zlib stream
        compressed = body[nul + 2 :]
    inflater = zlib.decompressobj()
    try:
        plain = inflater.decompress(compressed, PngImagePlugin.MAX_TEXT_CHUNK)
    except zlib.error:
        return 0  # damaged: left for the decoder to judge, as before
    return None if inflater.unconsumed_tail else len(plain)


def skip_oversized_png_chunks(data: bytes) -> tuple[bytes, list[str]]:
    """``data`` without the PNG chunks Pillow would refuse that the picture does not need, and a description
    of each one left out: metadata chunks over Pillow's text limits, and ancillary chunks (lower-case first
    letter: safe to skip, by the PNG standard) whose CRC does not match, which make Pillow refuse the whole
    file. A damaged critical chunk (IHDR, PLTE, IDAT, IEND) stays: the decoder judges it.

    Returns ``data`` itself (and no descriptions) when it is not a PNG or nothing needs leaving out.
    """
    if not data.startswith(PNG_SIGNATURE):
        return data, []
    cut: list[tuple[int, int]] = []  # the byte ranges of the chunks left out
    skipped: list[str] = []
    text_memory = 0
    pos = len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            break
        if kind[0] & 0x20 and zlib.crc32(data[pos + 4 : end - 4]) != int.from_bytes(data[end - 4 : end], "big"):
            name = kind.decode("latin-1", "replace")
            skipped.append(f"{name} chunk of {length:,} bytes at offset {pos:,} (its CRC does not match: damaged)")
            cut.append((pos, end))
            pos = end
            continue
        size = _metadata_size(kind, data[pos + 8 : end - 4]) if kind in _METADATA_CHUNKS else 0
        over_memory = (
            size is not None and kind in _TEXT_CHUNKS and text_memory + size > PngImagePlugin.MAX_TEXT_MEMORY
        )
        if size is None or over_memory:
            why = "decompresses past" if size is None else "brings the text past"
            limit = "MAX_TEXT_CHUNK" if size is None else "MAX_TEXT_MEMORY"
            name = kind.decode("latin-1")
            skipped.append(f"{name} chunk of {length:,} bytes at offset {pos:,} ({why} Pillow's {limit})")
            cut.append((pos, end))
        elif kind in _TEXT_CHUNKS:
            text_memory += size or 0
        pos = end
    if not cut:
        return data, []
    pieces: list[bytes] = []
    start = 0
    for first, after in cut:
        pieces.append(data[start:first])
        start = after
    pieces.append(data[start:])
    return b"".join(pieces), skipped


def _megabytes(n: int) -> str:
    return f"{n / 1024**2:,.0f} MiB"


def decode_image(data: bytes, settings: ScanSettings) -> DecodeOutcome:
    """Decode ``data`` once; never raises for bad input: problems come back as recorded errors."""
    with _pillow_bomb_guard(settings.limits.max_image_pixels), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's warnings about damaged metadata: cairn records its own
        return _decode_image(data, settings)


def _decode_image(data: bytes, settings: ScanSettings) -> DecodeOutcome:
    """``decode_image``'s body; runs with Pillow's warnings silenced and its bomb check on."""
    out = DecodeOutcome()
    readable, skipped = skip_oversized_png_chunks(data)
    for what in skipped:
        out.errors.append(
            errors.item_note(
                errors.IMAGE_CHUNK_SKIPPED,
                f"PNG metadata {what} was left out of the decode so the pixels could be hashed; the digests "
                "are of the whole file, chunk included",
            )
        )
    limit = settings.limits.max_image_pixels
    try:
        im = Image.open(io.BytesIO(readable))
    except Image.DecompressionBombError as exc:
        out.errors.append(
            errors.item_error(
                errors.IMAGE_BOMB,
                f"the decoder sized part of this picture over the limit of {limit:,} pixels while reading its "
                f"header ({exc}); not decoded (raise Limits.max_image_pixels to decode it)",
            )
        )
        return out
    except UnidentifiedImageError:
        ftype = filetype.sniff(data[:64])
        if ftype is filetype.HEIC:
            out.errors.append(
                errors.item_error(
                    errors.IMAGE_UNSUPPORTED,
                    "HEIC/HEIF picture: no HEIF decoder is installed here, so it has no pixel signals "
                    "(no PDQ, no thumbnail); digests were kept. Convert it with a HEIF tool and scan the copy.",
                )
            )
            return out
        out.errors.append(
            errors.item_error(
                errors.IMAGE_CORRUPT,
                "the image header is damaged or in a variant no decoder here reads; digests were kept",
            )
        )
        return out
    except Exception as exc:
        out.errors.append(errors.item_error(errors.IMAGE_CORRUPT, f"image header unreadable: {exc}"))
        return out

    width, height = im.size
    mode, fmt = im.mode, im.format
    what = f"{width}x{height} {mode} {fmt or 'unknown-format'} picture"
    full_cost = _megabytes(decode_cost(mode, fmt, width, height, len(data)))
    frames = _frame_count(im)

    def info(loaded: bool) -> ImageInfo:
        raw_exif, orientation = _exif(im, loaded)
        return ImageInfo(width, height, mode, fmt, frames=frames, orientation=orientation, exif=raw_exif)

    if width * height > limit:
        out.info = info(loaded=False)
        out.errors.append(
            errors.item_error(
                errors.IMAGE_BOMB,
                f"image declares {width}x{height} = {width * height:,} pixels, over the limit of {limit:,}; "
                "not decoded (raise Limits.max_image_pixels to decode it)",
            )
        )
        return out
    budget = decode_memory_budget(settings.limits)
    budget_scale = _budget_scale(im, budget, len(data))
    if budget_scale is None:
        out.info = info(loaded=False)
        out.errors.append(
            errors.item_error(
                errors.IMAGE_BOMB,
                f"decoding this {what} would take about {full_cost}, over the decode memory budget of "
                f"{_megabytes(budget)} per worker, and {fmt or 'its format'} cannot be decoded at reduced scale; "
                "hashed, not decoded (raise Limits.decode_memory_budget, or scan with fewer workers, to decode it)",
            )
        )
        return out
    try:
        # The first load of the pixels must be this one: a failed earlier load (e.g. inside getexif)
        # leaves Pillow with nothing left to decode, and a second load() then "succeeds" silently.
        im.seek(0)
        fast_scale = fast_pdq_scale(width, height) if settings.fast_pdq and im.format == "JPEG" else 1
        if budget_scale > fast_scale:
            _reduce_decode(im, budget_scale)
        elif fast_scale > 1:
            _draft_for_fast_pdq(im)
        scale = im.size[0] / width if width else 1.0
        if decode_cost(im.mode, fmt, *im.size, len(data)) > budget:
            raise _OverBudget
        im.load()
        normalised = normalise(im)
    except _OverBudget:
        out.info = info(loaded=False)
        out.errors.append(
            errors.item_error(
                errors.IMAGE_BOMB,
                f"this {what} does not fit the decode memory budget of "
                f"{_megabytes(budget)} per worker even at reduced scale; hashed, not decoded "
                "(raise Limits.decode_memory_budget to decode it)",
            )
        )
        return out
    except Image.DecompressionBombError as exc:  # a later frame or a disposal canvas sized over the limit
        out.info = info(loaded=False)
        out.errors.append(
            errors.item_error(
                errors.IMAGE_BOMB,
                f"the decoder sized part of this {what} over the limit of {limit:,} pixels ({exc}); not decoded "
                "(raise Limits.max_image_pixels to decode it)",
            )
        )
        return out
    except Exception as exc:
        out.info = info(loaded=False)
        message = str(exc) or type(exc).__name__
        out.errors.append(
            errors.item_error(
                errors.IMAGE_CORRUPT,
                f"image data could not be decoded ({message}); header info kept, no pixel signals",
            )
        )
        return out
    out.info = info(loaded=True)
    if budget_scale > 1:
        out.errors.append(
            errors.item_note(
                errors.IMAGE_REDUCED_DECODE,
                f"decoded at 1/{budget_scale} scale ({im.size[0]}x{im.size[1]} of {width}x{height}): the full "
                f"decode would take about {full_cost}, over the decode memory budget of {_megabytes(budget)} per "
                "worker; PDQ and the thumbnail were computed from the reduced decode "
                "(raise Limits.decode_memory_budget to decode it in full)",
            )
        )
    if normalised.image is not im:
        im.close()  # the normalised copy is what the signals use: hold one full-size copy, not two
    out.decoded = DecodedImage(data=data, image=normalised.image, rgb=normalised.pixels, draft_scale=scale)
    return out


class _OverBudget(Exception):
    """The decoder would not reduce as far as the budget needs."""
