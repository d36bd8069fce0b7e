"""The stealth pixel copy of a generation record: text hidden in the least-significant bits of the pixels.

Forge writes it by default beside a PNG's ``parameters`` chunk (the sd-webui "stealth pnginfo" format), NovelAI
writes its metadata this way, and ComfyUI/SwarmUI extensions do too. It survives metadata stripping and
conversion to any lossless format (PNG, WebP lossless, TIFF, BMP), so an image whose text chunks were removed
can still be attributed.

The format, as those tools write and read it:

* the bits are the pixels' least-significant bits, read **column by column** (x outer, y inner), each byte
  most-significant bit first;
* from the alpha channel, one bit a pixel (signatures ``stealth_pnginfo`` plain, ``stealth_pngcomp`` gzip), or
  from R, G and B in turn, three bits a pixel (``stealth_rgbinfo`` plain, ``stealth_rgbcomp`` gzip);
* after the 15-byte signature, a 32-bit big-endian length **in bits**, then the payload (UTF-8 text, or gzip
  of it);
* NovelAI's payload is gzip'd JSON (``Description``, ``Software``, ``Source``, ``Comment`` holding a JSON string,
  ...), followed in newer images by a 32-bit length and error-correction data (``0xFFFFFFFF``: none).

Carriers (container ``pixels``): the payload is one ``parameters`` carrier (A1111/Forge text, SwarmUI JSON, and
NovelAI's JSON, which the NovelAI parser reads whole under any key), except the JSON a ComfyUI extension writes,
whose values are the ``prompt``/``workflow`` texts: it is flattened into one carrier per key, so the ComfyUI
parser reads them as it reads PNG text chunks.

Cost: an image without a signature costs one read of the first 120 bits (a one-column crop): microseconds.
Nothing is trusted: a declared length larger than the image holds, or than ``max_stealth_bits``, a gzip stream
that is truncated or inflates past ``max_decompressed``, a payload that is not UTF-8: each is a warning.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from cairn.signals.provenance.limits import DEFAULT_LIMITS, ProvenanceLimits, load_json
from cairn.signals.provenance.record import Carrier

#: Signature -> (channel, compressed).
SIGNATURES: dict[bytes, tuple[str, bool]] = {
    b"stealth_pnginfo": ("alpha", False),
    b"stealth_pngcomp": ("alpha", True),
    b"stealth_rgbinfo": ("rgb", False),
    b"stealth_rgbcomp": ("rgb", True),
}
SIGNATURE_BITS = 15 * 8
LENGTH_BITS = 32
HEADER_BITS = SIGNATURE_BITS + LENGTH_BITS
#: The error-correction length NovelAI writes when there is none (and what an opaque alpha channel reads as).
NO_ECC = 0xFFFFFFFF
#: JSON keys that make a JSON payload a set of carriers (ComfyUI's prompt/workflow texts).
FLATTEN_KEYS = frozenset({"prompt", "workflow"})
#: JSON keys of NovelAI's payload: such JSON stays one carrier (and its error-correction length is read).
NOVELAI_KEYS = frozenset({"Description", "Software", "Source", "Comment"})

_ALPHA_MODES = {"RGBA": 3, "LA": 1}
_RGB_MODES = {"RGB", "RGBA", "RGBX"}


@dataclass(frozen=True)
class StealthPayload:
    """A pixel copy found in an image: its signature, declared length and decoded text."""

    signature: str
    channel: str  # "alpha" or "rgb"
    compressed: bool
    declared_bits: int
    text: str
    ecc_bits: int | None = None  # NovelAI error-correction data after the payload, when present

    @property
    def where(self) -> str:
        ecc = f", error-correction data {self.ecc_bits} bits" if self.ecc_bits else ""
        return f"pixels: {self.channel} LSB, {self.signature}, {self.declared_bits} bits{ecc}"


@dataclass
class StealthResult:
    """What :func:`read_stealth` found: the payload (or None), its carriers, and warnings as (where, message)."""

    payload: StealthPayload | None = None
    carriers: list[Carrier] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)


class _BitSource:
    """The LSB stream of one channel group of an image, read column by column without copying the image."""

    def __init__(self, image: Image.Image, bands: tuple[int, ...]) -> None:
        self.image = image
        self.bands = bands
        self.width, self.height = image.size
        self.capacity = self.width * self.height * len(bands)

    def bits(self, start: int, count: int) -> np.ndarray:
        """``count`` bits (uint8 0/1) from bit ``start``; the caller keeps ``start + count <= capacity``."""
        per_pixel = len(self.bands)
        first_pixel, last_pixel = start // per_pixel, (start + count - 1) // per_pixel
        x0, x1 = first_pixel // self.height, last_pixel // self.height + 1
        y0, y1 = 0, self.height
        if x1 - x0 == 1:  # within one column (the header, usually): crop only the rows needed
            y0, y1 = first_pixel % self.height, last_pixel % self.height + 1
        strip = np.asarray(self.image.crop((x0, y0, x1, y1)))
        if strip.ndim == 2:
            strip = strip[:, :, None]
        lsb = strip[:, :, list(self.bands)].transpose(1, 0, 2).reshape(-1) & 1
        offset = start - (x0 * self.height + y0) * per_pixel
        return lsb[offset : offset + count]

    def read_bytes(self, start: int, count: int) -> bytes:
        return np.packbits(self.bits(start, count * 8)).tobytes()


def _sources(image: Image.Image) -> list[tuple[str, _BitSource]]:
    found = []
    if image.mode in _ALPHA_MODES:
        found.append(("alpha", _BitSource(image, (_ALPHA_MODES[image.mode],))))
    if image.mode in _RGB_MODES:
        found.append(("rgb", _BitSource(image, (0, 1, 2))))
    return found


def find_signature(image: Image.Image) -> tuple[str, bool, _BitSource] | None:
    """The pixel copy's (signature, compressed, bits) when the image starts with one; cheap otherwise."""
    for channel, source in _sources(image):
        if source.capacity < HEADER_BITS:
            continue
        head = source.read_bytes(0, SIGNATURE_BITS // 8)
        kind = SIGNATURES.get(head)
        if kind is not None and kind[0] == channel:
            return head.decode("ascii"), kind[1], source
    return None


def read_stealth(image: Image.Image, limits: ProvenanceLimits = DEFAULT_LIMITS) -> StealthResult:
    """Find and decode the stealth pixel copy of ``image`` (any mode; only RGB(A)/LA images can hold one)."""
    result = StealthResult()
    found = find_signature(image)
    if found is None:
        return result
    signature, compressed, source = found
    channel = "alpha" if len(source.bands) == 1 else "rgb"
    where = f"pixels: {channel} LSB, {signature}"
    declared = int.from_bytes(source.read_bytes(SIGNATURE_BITS, LENGTH_BITS // 8), "big")
    room = source.capacity - HEADER_BITS
    if declared == 0:
        result.warnings.append((where, "the pixel copy declares an empty payload"))
        return result
    if declared > room:
        result.warnings.append(
            (where, f"the pixel copy declares {declared:,} bits; the image holds only {room:,} after the header")
        )
        return result
    if declared > limits.max_stealth_bits:
        result.warnings.append(
            (where, f"the pixel copy declares {declared:,} bits, over the {limits.max_stealth_bits:,} limit")
        )
        return result
    if declared % 8:
        result.warnings.append((where, f"the declared length {declared} bits is not whole bytes; its tail ignored"))
    nbytes = declared // 8
    where = f"{where}, {declared} bits"
    raw = source.read_bytes(HEADER_BITS, nbytes) if nbytes else b""
    if compressed:
        data = _gunzip(raw, limits, where, result)
        if data is None:
            return result
    else:
        data = raw
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        result.warnings.append((where, f"the pixel copy is not UTF-8 text ({exc.reason} at byte {exc.start})"))
        return result
    if len(text) > limits.max_text:
        result.warnings.append((where, f"the pixel copy's text of {len(text):,} characters was cut to the limit"))
        text = text[: limits.max_text]
    obj = _json_object(text, limits)
    ecc = None
    if obj is not None and any(isinstance(obj.get(k), str) for k in NOVELAI_KEYS):
        ecc = _ecc_bits(source, HEADER_BITS + declared)
    flatten = obj is not None and any(isinstance(obj.get(k), str) for k in FLATTEN_KEYS)
    payload = StealthPayload(signature, channel, compressed, declared, text, ecc)
    result.payload = payload
    result.carriers = _carriers(payload, obj if flatten else None, limits)
    return result


def _gunzip(raw: bytes, limits: ProvenanceLimits, where: str, result: StealthResult) -> bytes | None:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip only, as the writers use
    try:
        data = inflater.decompress(raw, limits.max_decompressed + 1)
    except zlib.error as exc:
        result.warnings.append((where, f"the pixel copy is not valid gzip: {exc}"))
        return None
    if len(data) > limits.max_decompressed:
        result.warnings.append(
            (where, f"the pixel copy inflates past the {limits.max_decompressed:,}-byte limit; not read")
        )
        return None
    if not inflater.eof:
        result.warnings.append((where, f"the pixel copy's gzip stream is truncated ({len(data):,} bytes inflated)"))
        return None
    return data


def _json_object(text: str, limits: ProvenanceLimits) -> dict[str, object] | None:
    """The payload as a JSON object, or None (the parsers report JSON they cannot read)."""
    if not text.lstrip().startswith("{"):
        return None
    try:
        obj = load_json(text, limits)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _ecc_bits(source: _BitSource, start: int) -> int | None:
    """The length of NovelAI's error-correction data after the payload, when one is declared and fits."""
    if start + LENGTH_BITS > source.capacity:
        return None
    length = int.from_bytes(source.read_bytes(start, LENGTH_BITS // 8), "big")
    if length == NO_ECC or length == 0 or length > source.capacity - start - LENGTH_BITS:
        return None
    return length


def _carriers(payload: StealthPayload, obj: dict[str, object] | None, limits: ProvenanceLimits) -> list[Carrier]:
    where = payload.where
    if obj is None:
        return [Carrier("parameters", payload.text, where, container="pixels")]
    carriers = []
    for key, value in list(obj.items())[: limits.max_carriers]:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        carriers.append(Carrier(str(key), text, f"{where}; JSON key {key!r}", container="pixels"))
    return carriers


# -- writing (tests and the demo make their own benign samples in the format the tools write) ------------------


def stealth_bits(text_or_data: str | bytes, signature: str) -> np.ndarray:
    """The bit stream a writer puts into the pixels: signature, 32-bit length in bits, payload (gzip'd for
    ``*comp`` signatures)."""
    data = text_or_data.encode("utf-8") if isinstance(text_or_data, str) else text_or_data
    if signature.endswith("comp"):
        import gzip

        data = gzip.compress(data, mtime=0)
    head = signature.encode("ascii") + (len(data) * 8).to_bytes(4, "big")
    return np.unpackbits(np.frombuffer(head + data, dtype=np.uint8))


def embed_stealth(image: Image.Image, bits: np.ndarray, channel: str) -> Image.Image:
    """A copy of ``image`` with ``bits`` in its pixels' LSBs, column by column (alpha: RGBA, opaque alpha first,
    as Forge does; rgb: three bits a pixel). Raises ValueError when the image is too small."""
    if channel == "alpha":
        out = image.convert("RGB").convert("RGBA")  # opaque alpha, then the bits
        bands = [3]
    else:
        out = image.convert("RGB")
        bands = [0, 1, 2]
    pixels = np.array(out)
    height, width = pixels.shape[:2]
    per_pixel = len(bands)
    if bits.size > width * height * per_pixel:
        raise ValueError(f"{bits.size} bits do not fit into a {width}x{height} image")
    columns = np.ascontiguousarray(pixels.transpose(1, 0, 2))  # x outer, y inner
    flat = columns.reshape(-1, pixels.shape[2])  # a view of columns: writes land there
    npix = -(-bits.size // per_pixel)
    target = flat[:npix][:, bands]
    stream = target.reshape(-1) & 1  # bits past the payload in the last pixel stay as they were
    stream[: bits.size] = bits
    flat[:npix, bands] = (target & 0xFE) | stream.reshape(npix, per_pixel)
    return Image.fromarray(np.ascontiguousarray(columns.transpose(1, 0, 2)))
