"""The stealth pixel copy: the demo's Forge/NovelAI pictures (text kept, stripped, converted to WebP lossless),
every signature written by cairn's own writer, and hostile copies (lengths past the image or the limit, truncated
or oversized gzip, garbage after a signature), read as the scan reads them."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cairn.demo import ai_samples
from cairn.demo import ai_samples_pixels as demo
from cairn.model import FileResult, ItemMeta, Locator
from cairn.settings import ScanSettings
from cairn.signals.ai_stealth import AiStealthSignal
from cairn.signals.imaging import decode_image
from cairn.signals.provenance.carriers import extract_carriers
from cairn.signals.provenance.limits import ProvenanceLimits
from cairn.signals.provenance.parsers import parse_all
from cairn.signals.provenance.record import GenerationRecord
from cairn.signals.provenance.stealth import (
    HEADER_BITS,
    NO_ECC,
    embed_stealth,
    find_signature,
    read_stealth,
    stealth_bits,
)

TEXT = "a red bicycle on a beach\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42"


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pixel_samples")
    return {p.name: p for writer in demo.WRITERS for p in writer(folder)}


def opened(path: Path) -> Image.Image:
    img = Image.open(path)
    img.load()
    return img


def canvas(width: int = 160, height: int = 120, seed: int = 1) -> Image.Image:
    """A benign noisy gradient (noise makes the LSBs random, as a real picture's are)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x + y) % 256], axis=-1)
    noisy = np.clip(base + rng.integers(-6, 7, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(noisy)


def reload(img: Image.Image, fmt: str, **options: object) -> Image.Image:
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return opened_bytes(out.getvalue())


def opened_bytes(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def raw_bits(signature: str, payload: bytes, declared_bits: int | None = None, tail: bytes = b"") -> np.ndarray:
    """Signature, a (possibly lying) length and ``payload`` as bits, with ``tail`` after the payload."""
    length = len(payload) * 8 if declared_bits is None else declared_bits
    head = signature.encode("ascii") + length.to_bytes(4, "big")
    return np.unpackbits(np.frombuffer(head + payload + tail, dtype=np.uint8))


def comparable(record: GenerationRecord) -> dict[str, object]:
    data = record.as_dict()
    for key in ("where", "raw", "raw_truncated"):
        data.pop(key)
    return data


# -- the demo pictures ---------------------------------------------------------------------------------------


def test_forge_png_pixel_copy_matches_its_text_chunk(samples: dict[str, Path]) -> None:
    path = samples[demo.FORGE_PNG]
    found = read_stealth(opened(path))
    assert found.warnings == []
    assert found.payload is not None
    payload = found.payload
    assert (payload.signature, payload.channel, payload.compressed) == ("stealth_pngcomp", "alpha", True)
    assert found.payload.text == demo.forge_text()
    bits = len(gzip.compress(demo.forge_text().encode(), mtime=0)) * 8
    assert found.payload.where == f"pixels: alpha LSB, stealth_pngcomp, {bits} bits"
    [carrier] = found.carriers
    assert (carrier.key, carrier.container, carrier.where) == ("parameters", "pixels", found.payload.where)

    pixel_records, warnings = parse_all(found.carriers)
    assert warnings == []
    text_carriers, _ = extract_carriers(path.read_bytes())
    text_records, _ = parse_all(text_carriers)
    [pixel], [text] = pixel_records, text_records
    assert pixel.tool == "Forge" and pixel.where == found.payload.where
    assert comparable(pixel) == comparable(text)
    assert pixel.model is not None and pixel.model.hash == ai_samples.CHECKPOINT_AUTOV2
    assert pixel.model.hash_kind == "autov2"
    assert [(lo.name, lo.hash, lo.hash_kind) for lo in pixel.loras] == [
        (ai_samples.LORA, ai_samples.LORA_AUTOV3, "autov3")
    ]


@pytest.mark.parametrize("name", [demo.FORGE_STRIPPED, demo.FORGE_WEBP])
def test_stripped_and_converted_copies_are_still_attributed(samples: dict[str, Path], name: str) -> None:
    path = samples[name]
    carriers, _ = extract_carriers(path.read_bytes())
    assert parse_all(carriers)[0] == []  # no text record left
    found = read_stealth(opened(path))
    [record], warnings = parse_all(found.carriers)
    assert warnings == []
    [original], _ = parse_all(read_stealth(opened(samples[demo.FORGE_PNG])).carriers)
    assert record.as_dict() == original.as_dict()
    assert record.tool == "Forge" and record.seed == ai_samples.SEED


def test_novelai_rgb_variant(samples: dict[str, Path]) -> None:
    img = opened(samples[demo.NOVELAI_RGB])
    assert img.mode == "RGB"
    found = read_stealth(img)
    assert found.payload is not None and found.payload.signature == "stealth_rgbcomp"
    assert found.payload.where.startswith("pixels: rgb LSB, stealth_rgbcomp, ")
    assert json.loads(found.payload.text) == json.loads(demo.novelai_json())
    [record], warnings = parse_all(found.carriers)
    assert warnings == []
    assert record.tool == "NovelAI"
    assert record.prompt == ai_samples.PROMPT
    assert record.negative_prompt == ai_samples.NEGATIVE
    assert (record.seed, record.steps, record.cfg, record.sampler) == (ai_samples.SEED, 28, 5.0, "k_euler_ancestral")
    assert record.model is not None
    assert (record.model.name, record.model.hash, record.model.hash_kind) == (
        ai_samples.NOVELAI_SOURCE_MODEL,
        ai_samples.NOVELAI_SOURCE_HASH.lower(),
        "novelai",
    )


# -- every variant, every lossless container ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signature", "channel"),
    [
        ("stealth_pnginfo", "alpha"),
        ("stealth_pngcomp", "alpha"),
        ("stealth_rgbinfo", "rgb"),
        ("stealth_rgbcomp", "rgb"),
    ],
)
@pytest.mark.parametrize(
    ("fmt", "options"),
    [("PNG", {}), ("WEBP", {"lossless": True, "exact": True}), ("TIFF", {})],
)
def test_variants_survive_lossless_formats(signature: str, channel: str, fmt: str, options: dict[str, object]) -> None:
    marked = embed_stealth(canvas(), stealth_bits(TEXT, signature), channel)
    img = reload(marked, fmt, **options)
    found = read_stealth(img)
    assert found.warnings == []
    assert found.payload is not None
    assert (found.payload.signature, found.payload.channel) == (signature, channel)
    assert found.payload.text == TEXT
    [record], _ = parse_all(found.carriers)
    assert (record.prompt, record.seed, record.steps) == ("a red bicycle on a beach", 42, 20)


def test_rgb_variant_survives_bmp() -> None:
    marked = embed_stealth(canvas(), stealth_bits(TEXT, "stealth_rgbcomp"), "rgb")
    found = read_stealth(reload(marked, "BMP"))
    assert found.payload is not None and found.payload.text == TEXT


def test_short_pictures_read_across_columns() -> None:
    """A picture shorter than the header: the bits run on into the next columns (x outer, y inner)."""
    marked = embed_stealth(canvas(400, 7), stealth_bits(TEXT, "stealth_pnginfo"), "alpha")
    found = read_stealth(reload(marked, "PNG"))
    assert found.payload is not None and found.payload.text == TEXT


def test_column_order_is_x_outer() -> None:
    """The first 15 bytes sit in the first column: written there by hand, the signature is found."""
    img = np.full((200, 50, 4), 255, dtype=np.uint8)
    bits = raw_bits("stealth_pnginfo", TEXT.encode())
    for x, start in enumerate(range(0, bits.size, 200)):
        chunk = bits[start : start + 200]
        img[: chunk.size, x, 3] = 254 | chunk
    found = read_stealth(Image.fromarray(img))
    assert found.payload is not None and found.payload.text == TEXT
    # the same bits row by row are not a copy
    rows = np.full((200, 50, 4), 255, dtype=np.uint8)
    rows.reshape(-1, 4)[: bits.size, 3] = 254 | bits
    assert read_stealth(Image.fromarray(rows)).payload is None


def test_comfyui_json_is_flattened_into_its_keys() -> None:
    prompt = {"3": {"class_type": "KSampler", "inputs": {"seed": 7}}}
    payload = json.dumps({"prompt": json.dumps(prompt), "workflow": json.dumps({"nodes": []})})
    found = read_stealth(embed_stealth(canvas(), stealth_bits(payload, "stealth_pnginfo"), "alpha"))
    assert [(c.key, c.text) for c in found.carriers] == [
        ("prompt", json.dumps(prompt)),
        ("workflow", json.dumps({"nodes": []})),
    ]
    assert found.carriers[0].where.endswith("; JSON key 'prompt'")


def test_novelai_error_correction_length_is_noted() -> None:
    payload = gzip.compress(demo.novelai_json().encode(), mtime=0)
    bits = raw_bits("stealth_pngcomp", payload, tail=(96).to_bytes(4, "big") + bytes(12))
    found = read_stealth(embed_stealth(canvas(), bits, "alpha"))
    assert found.payload is not None and found.payload.ecc_bits == 96
    assert found.payload.where.endswith(f", {len(payload) * 8} bits, error-correction data 96 bits")
    # none declared (Forge's opaque alpha reads 0xFFFFFFFF after the payload): nothing noted
    bits = raw_bits("stealth_pngcomp", payload, tail=NO_ECC.to_bytes(4, "big"))
    found = read_stealth(embed_stealth(canvas(), bits, "alpha"))
    assert found.payload is not None and found.payload.ecc_bits is None


# -- pictures without a copy ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "1", "I;16", "CMYK"])
def test_pictures_without_a_copy_give_nothing(mode: str) -> None:
    img = canvas().convert(mode) if mode != "I;16" else canvas().convert("L").convert("I;16")
    assert find_signature(img) is None
    found = read_stealth(img)
    assert (found.payload, found.carriers, found.warnings) == (None, [], [])


def test_tiny_pictures_are_not_read() -> None:
    assert read_stealth(Image.new("RGBA", (3, 3))).payload is None
    assert read_stealth(Image.new("RGB", (1, 1))).warnings == []


def test_a_jpeg_of_a_marked_picture_holds_no_copy() -> None:
    marked = embed_stealth(canvas(), stealth_bits(TEXT, "stealth_rgbinfo"), "rgb")
    assert read_stealth(reload(marked, "JPEG", quality=95)).payload is None


# -- hostile copies ---------------------------------------------------------------------------------------------


def test_length_larger_than_the_image_is_a_warning() -> None:
    img = canvas(40, 40)  # 1600 alpha bits
    bits = raw_bits("stealth_pnginfo", b"abc", declared_bits=2**31)
    found = read_stealth(embed_stealth(img, bits, "alpha"))
    assert found.payload is None and found.carriers == []
    [(where, message)] = found.warnings
    assert where == "pixels: alpha LSB, stealth_pnginfo"
    room = 1600 - HEADER_BITS
    assert message == f"the pixel copy declares {2**31:,} bits; the image holds only {room:,} after the header"


def test_length_over_the_limit_is_a_warning() -> None:
    found = read_stealth(
        embed_stealth(canvas(), stealth_bits(TEXT, "stealth_rgbinfo"), "rgb"), ProvenanceLimits(max_stealth_bits=64)
    )
    assert found.payload is None
    [(_, message)] = found.warnings
    assert message == f"the pixel copy declares {len(TEXT) * 8:,} bits, over the 64 limit"


def test_empty_and_ragged_lengths() -> None:
    found = read_stealth(embed_stealth(canvas(), raw_bits("stealth_pnginfo", b"", declared_bits=0), "alpha"))
    assert found.warnings == [("pixels: alpha LSB, stealth_pnginfo", "the pixel copy declares an empty payload")]
    ragged = raw_bits("stealth_pnginfo", TEXT.encode(), declared_bits=len(TEXT) * 8 + 3)
    found = read_stealth(embed_stealth(canvas(), ragged, "alpha"))
    assert found.payload is not None and found.payload.text == TEXT
    assert found.warnings[0][1] == f"the declared length {len(TEXT) * 8 + 3} bits is not whole bytes; its tail ignored"


def test_truncated_gzip_is_a_warning() -> None:
    data = gzip.compress(TEXT.encode() * 20, mtime=0)
    found = read_stealth(embed_stealth(canvas(), raw_bits("stealth_pngcomp", data[: len(data) // 2]), "alpha"))
    assert found.payload is None and found.carriers == []
    [(where, message)] = found.warnings
    assert where == f"pixels: alpha LSB, stealth_pngcomp, {len(data) // 2 * 8} bits"
    assert message.startswith("the pixel copy's gzip stream is truncated (")


def test_gzip_past_the_limit_is_not_inflated() -> None:
    bomb = gzip.compress(b"\0" * 5_000_000, mtime=0)
    found = read_stealth(
        embed_stealth(canvas(300, 300), raw_bits("stealth_rgbcomp", bomb), "rgb"),
        ProvenanceLimits(max_decompressed=1_000_000),
    )
    assert found.payload is None
    assert found.warnings[0][1] == "the pixel copy inflates past the 1,000,000-byte limit; not read"


def test_signature_then_garbage() -> None:
    garbage = bytes(np.random.default_rng(5).integers(0, 256, 300, dtype=np.uint8))
    found = read_stealth(embed_stealth(canvas(), raw_bits("stealth_pngcomp", garbage), "alpha"))
    assert found.payload is None
    assert found.warnings[0][1].startswith("the pixel copy is not valid gzip: ")
    found = read_stealth(embed_stealth(canvas(), raw_bits("stealth_rgbinfo", b"\xff\xfe" + garbage), "rgb"))
    assert found.payload is None
    assert found.warnings[0][1] == "the pixel copy is not UTF-8 text (invalid start byte at byte 0)"


def test_random_headers_and_payloads_never_raise() -> None:
    """Every signature with random lengths and random payload bits: a copy, or warnings; never an exception,
    never a payload past what the picture holds."""
    rng = np.random.default_rng(12)
    signatures = ["stealth_pnginfo", "stealth_pngcomp", "stealth_rgbinfo", "stealth_rgbcomp"]
    for trial in range(60):
        signature = signatures[trial % 4]
        payload = bytes(rng.integers(0, 256, int(rng.integers(0, 400)), dtype=np.uint8))
        declared = int(
            rng.choice([0, 1, 7, len(payload) * 8, len(payload) * 8 + 5, 2**32 - 1, int(rng.integers(0, 2**20))])
        )
        channel = "alpha" if "png" in signature else "rgb"
        img = embed_stealth(canvas(96, 64, seed=trial), raw_bits(signature, payload, declared), channel)
        found = read_stealth(img, ProvenanceLimits(max_decompressed=100_000))
        assert found.payload is not None or found.warnings
        if found.payload is not None:
            room = 96 * 64 * (1 if channel == "alpha" else 3) - HEADER_BITS
            assert found.payload.declared_bits <= room


# -- the scan signal --------------------------------------------------------------------------------------------


def signal_result(data: bytes) -> FileResult:
    settings = ScanSettings()
    outcome = decode_image(data, settings)
    assert outcome.decoded is not None
    result = FileResult(Locator.of("sample.png"), ItemMeta())
    AiStealthSignal().apply(outcome.decoded, result, settings)
    return result


def test_signal_stores_pixel_records(samples: dict[str, Path]) -> None:
    result = signal_result(samples[demo.FORGE_STRIPPED].read_bytes())
    [finding] = result.findings
    assert (finding.signal, finding.kind) == ("ai_stealth", "generation_record")
    assert finding.where is not None and finding.where.startswith("pixels: alpha LSB, stealth_pngcomp, ")
    assert finding.data["tool"] == "Forge" and finding.data["where"] == finding.where
    assert result.errors == []


def test_signal_stores_warnings_with_a_note() -> None:
    bits = raw_bits("stealth_pnginfo", b"abc", declared_bits=10**6)
    result = signal_result(_png(bits))
    [finding] = result.findings
    assert (finding.signal, finding.kind) == ("ai_stealth", "provenance_warning")
    assert finding.data["parser"] == "stealth"
    assert finding.data["message"].startswith("the pixel copy declares 1,000,000 bits")
    [note] = result.errors
    assert note.code == "provenance_unreadable"


def test_signal_warns_of_a_copy_no_parser_reads() -> None:
    result = signal_result(_png(stealth_bits('{"caption": "a red bicycle"}', "stealth_pnginfo")))
    [finding] = result.findings
    assert (finding.kind, finding.data["parser"]) == ("provenance_warning", "stealth")
    assert finding.data["message"] == 'a pixel copy no parser reads; it begins \'{"caption": "a red bicycle"}\''
    # a text a parser looked at and refused: its own warning, not a second one
    result = signal_result(_png(stealth_bits("just a caption", "stealth_pnginfo")))
    [finding] = result.findings
    assert (finding.kind, finding.data["parser"]) == ("provenance_warning", "a1111")
    assert finding.where == f"pixels: alpha LSB, stealth_pnginfo, {len('just a caption') * 8} bits"


def test_signal_on_a_plain_picture_stores_nothing() -> None:
    result = signal_result(_png(None))
    assert result.findings == [] and result.errors == []


def _png(bits: np.ndarray | None) -> bytes:
    img = canvas() if bits is None else embed_stealth(canvas(), bits, "alpha")
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()
