"""SwarmUI: the demo's PNG (iTXt parameters) and JPEG (UserComment, UTF-16LE) with exact records, the metadata
documentation's own example, LoRAs without hashes, and hostile texts through the shared parser helper."""

from __future__ import annotations

import json
from pathlib import Path

from tests.signals.provenance.parser_helper import ParserTestHelper, Sample

from cairn.demo import ai_samples as demo
from cairn.signals.provenance.parsers import parse_all
from cairn.signals.provenance.record import Carrier, GenerationRecord, ModelRef


def swarm_record(where: str) -> GenerationRecord:
    doc = demo.swarmui_json()
    return GenerationRecord(
        tool="SwarmUI",
        where=where,
        parser="swarmui",
        raw=json.dumps(doc, indent=2),
        tool_version=demo.SWARM_VERSION,
        prompt=demo.PROMPT,
        negative_prompt=demo.NEGATIVE,
        seed=demo.SEED,
        steps=demo.STEPS,
        sampler="euler",
        scheduler="normal",
        cfg=demo.CFG,
        width=demo.WIDTH,
        height=demo.HEIGHT,
        model=ModelRef(
            "checkpoint", f"{demo.SWARM_CHECKPOINT}.safetensors", demo.SWARM_CHECKPOINT_TENSOR, "tensor_sha256"
        ),
        loras=[
            ModelRef(
                "lora",
                f"{demo.SWARM_LORA}.safetensors",
                demo.SWARM_LORA_TENSOR,
                "tensor_sha256",
                weight=demo.LORA_WEIGHT,
            )
        ],
        extra={"aspectratio": "Custom", "sui_extra_data": doc["sui_extra_data"]},
    )


def _pick(name: str):  # type: ignore[no-untyped-def]
    def write(folder: Path) -> list[Path]:
        return [p for p in demo.write_swarmui(folder / name) if p.name == name]

    return write


class TestSwarmUI(ParserTestHelper):
    PARSER = "swarmui"

    def samples(self) -> list[Sample]:
        return [
            Sample("png", _pick("swarmui_bicycle.png"), [swarm_record("PNG iTXt 'parameters' at byte 33")]),
            Sample(
                "jpeg",
                _pick("swarmui_bicycle.jpg"),
                [swarm_record("JPEG APP1 Exif at byte 20: ExifIFD 0x9286 UserComment (UNICODE prefix, UTF-16LE)")],
            ),
        ]


#: The shape of the "Full Example" in SwarmUI's docs/Image Metadata Format.md (values as documented).
DOC_EXAMPLE = """{
  "sui_image_params": {
    "prompt": "a photo of a cat",
    "model": "OfficialStableDiffusion/sd_xl_base_1.0",
    "seed": 1,
    "steps": 20,
    "cfgscale": 7.0,
    "aspectratio": "1:1",
    "width": 1024,
    "height": 1024,
    "automaticvae": true,
    "negativeprompt": "",
    "swarm_version": "0.9.3.1"
  },
  "sui_extra_data": {
    "date": "2025-01-25",
    "prep_time": "6.11 sec",
    "generation_time": "4.84 sec"
  },
  "sui_models": [
    {
      "name": "OfficialStableDiffusion/sd_xl_base_1.0.safetensors",
      "param": "model",
      "hash": "0xd7a9105a900fd52748f20725fe52fe52b507fd36bee4fc107b1550a26e6ee1d7"
    }
  ]
}"""


def test_the_documented_example() -> None:
    [record], warnings = parse_all([Carrier("parameters", DOC_EXAMPLE, "PNG iTXt 'parameters'", container="png")])
    assert warnings == []
    assert record.model == ModelRef(
        "checkpoint",
        "OfficialStableDiffusion/sd_xl_base_1.0.safetensors",
        "d7a9105a900fd52748f20725fe52fe52b507fd36bee4fc107b1550a26e6ee1d7",
        "tensor_sha256",
    )
    assert (record.prompt, record.negative_prompt, record.seed, record.steps, record.cfg) == (
        "a photo of a cat",
        None,
        1,
        20,
        7.0,
    )
    assert (record.width, record.height, record.tool_version) == (1024, 1024, "0.9.3.1")
    assert record.extra["automaticvae"] is True


def test_without_model_hashes_and_with_text_lists() -> None:
    doc = {
        "sui_image_params": {
            "prompt": "a yellow kite",
            "model": "Flux/flux1-dev",
            "seed": "17",
            "steps": "25",
            "cfgscale": "1.0",
            "loras": "kites,sky_v2",
            "loraweights": "0.5,1",
            "swarm_version": "0.9.1.1",
        }
    }
    [record], warnings = parse_all([Carrier("UserComment", json.dumps(doc), "EXIF", container="jpeg")])
    assert warnings == []
    assert record.model == ModelRef("checkpoint", "Flux/flux1-dev", link="name-only")
    assert record.loras == [
        ModelRef("lora", "kites", weight=0.5, link="name-only"),
        ModelRef("lora", "sky_v2", weight=1.0, link="name-only"),
    ]
    assert (record.seed, record.steps, record.cfg) == (17, 25, 1.0)


def test_bad_hash_is_warned() -> None:
    doc = {
        "sui_image_params": {"prompt": "x"},
        "sui_models": [{"name": "m.safetensors", "param": "model", "hash": "0x1234"}],
    }
    [record], warnings = parse_all([Carrier("parameters", json.dumps(doc), "here", container="png")])
    assert record.model == ModelRef("checkpoint", "m.safetensors", link="name-only")
    assert [w.message for w in warnings] == [
        "checkpoint hash '1234' has 4 hex digits, not a known hash kind; kept the name only"
    ]
