"""Fooocus: the demo's PNG (JSON scheme), JPEG (A1111 scheme in IFD0 EXIF) and WebP (JSON scheme in IFD0 EXIF)
with exact records, Fooocus' own layouts without scheme markers, and hostile texts through the shared helper."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from tests.signals.provenance.parser_helper import ParserTestHelper, Sample, png_chunk_at, riff_chunk_at

from cairn.demo import ai_samples as demo
from cairn.signals.provenance.record import GenerationRecord, ModelRef

CHECKPOINT = ModelRef("checkpoint", demo.FOOOCUS_CHECKPOINT, demo.FOOOCUS_CHECKPOINT_AUTOV2, "autov2")
LORA = ModelRef("lora", demo.FOOOCUS_LORA, demo.FOOOCUS_LORA_AUTOV2, "autov2", weight=demo.FOOOCUS_LORA_WEIGHT)


def json_record(where: str) -> GenerationRecord:
    doc = demo.fooocus_json()
    return GenerationRecord(
        tool="Fooocus",
        where=where,
        parser="fooocus",
        raw=json.dumps(doc),
        tool_version=f"v{demo.FOOOCUS_VERSION}",
        prompt=demo.PROMPT,
        negative_prompt=demo.NEGATIVE,
        seed=demo.SEED,
        steps=30,
        sampler="dpmpp_2m_sde_gpu",
        scheduler="karras",
        cfg=4.0,
        width=demo.WIDTH,
        height=demo.HEIGHT,
        model=CHECKPOINT,
        loras=[LORA],
        extra={
            "adm_guidance": "(1.5, 0.8, 0.3)",
            "full_negative_prompt": [demo.NEGATIVE],
            "full_prompt": [demo.PROMPT],
            "metadata_scheme": "fooocus",
            "performance": "Speed",
            "refiner_switch": 0.5,
            "sharpness": 2.0,
            "styles": "['Fooocus V2', 'Fooocus Enhance']",
        },
    )


def a1111_scheme_record(where: str) -> GenerationRecord:
    return GenerationRecord(
        tool="Fooocus",
        where=where,
        parser="fooocus",
        raw=demo.fooocus_a1111_text(),
        tool_version=f"v{demo.FOOOCUS_VERSION}",
        prompt=demo.PROMPT,
        negative_prompt=demo.NEGATIVE,
        seed=demo.SEED,
        steps=30,
        sampler="DPM++ 2M SDE Karras",
        scheduler="karras",
        cfg=4.0,
        width=demo.WIDTH,
        height=demo.HEIGHT,
        model=CHECKPOINT,
        loras=[LORA],
        extra={
            "Sharpness": "2.0",
            "ADM Guidance": "(1.5, 0.8, 0.3)",
            "Performance": "Speed",
            "Lora hashes": f"{demo.FOOOCUS_LORA}: {demo.FOOOCUS_LORA_AUTOV2}",
            "Lora weights": f"{demo.FOOOCUS_LORA}: {demo.FOOOCUS_LORA_WEIGHT}",
            "VAE": "Default (model)",
        },
    )


def _pick(name: str):  # type: ignore[no-untyped-def]
    def write(folder: Path) -> list[Path]:
        return [p for p in demo.write_fooocus(folder / name) if p.name == name]

    return write


def _ifd0(prefix: str) -> str:
    return "; ".join(
        f"{prefix}: IFD0 {t}" for t in ("0x9286 UserComment (no prefix)", "0x927C MakerNote", "0x0131 Software")
    )


class TestFooocus(ParserTestHelper):
    PARSER = "fooocus"

    def samples(self) -> list[Sample]:
        with tempfile.TemporaryDirectory() as folder:  # to find where the chunks lie (the files are deterministic)
            written = {p.name: p.read_bytes() for p in demo.write_fooocus(Path(folder))}
        png = written["fooocus_bicycle.png"]
        webp = written["fooocus_bicycle.webp"]
        scheme_at = png_chunk_at(png, b"tEXt", "fooocus_scheme")
        png_where = f"PNG tEXt 'parameters' at byte 33; PNG tEXt 'fooocus_scheme' at byte {scheme_at}"
        webp_where = _ifd0(f"WebP EXIF at byte {riff_chunk_at(webp, b'EXIF')}")
        return [
            Sample("png", _pick("fooocus_bicycle.png"), [json_record(png_where)]),
            Sample("jpeg", _pick("fooocus_bicycle.jpg"), [a1111_scheme_record(_ifd0("JPEG APP1 Exif at byte 20"))]),
            Sample("webp", _pick("fooocus_bicycle.webp"), [json_record(webp_where)]),
        ]
