"""InvokeAI records: the demo images as InvokeAI 3.x+ and 2.x write them, the graph and workflow fallbacks, older
model-reference shapes, every hash prefix, and hostile input (truncated, deep, wrong types, huge graphs)."""

from __future__ import annotations

import copy
import json
import random
import tempfile
from pathlib import Path
from typing import Any

import pytest
from tests.signals.provenance.parser_helper import ParserTestHelper, Sample, png_chunk_at
from tests.signals.provenance.test_comfyui import mutated

from cairn.demo import ai_samples_graphs as demo
from cairn.signals.provenance.carriers import extract_carriers
from cairn.signals.provenance.parsers import ParseWarning, parse_all
from cairn.signals.provenance.record import Carrier, GenerationRecord, ModelRef

CHECKPOINT = ModelRef("checkpoint", "sd_xl_base_1.0", hash=demo.CHECKPOINT_BLAKE3, hash_kind="blake3")
LORA = ModelRef("lora", "bicycle_style_v1", hash=demo.LORA_BLAKE3, hash_kind="blake3", weight=0.8)
MODEL_KEYS = [
    {"role": "checkpoint", "name": "sd_xl_base_1.0", "key": demo.CHECKPOINT_KEY, "base": "sdxl"},
    {"role": "lora", "name": "bicycle_style_v1", "key": demo.LORA_KEY, "base": "sdxl"},
]


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("invokeai_samples")
    paths = demo.write_invokeai_png(folder) + demo.write_invokeai_legacy_png(folder)
    return {p.name: p for p in paths}


def read_file(path: Path) -> tuple[list[Carrier], list[GenerationRecord], list[ParseWarning]]:
    carriers, carrier_warnings = extract_carriers(path.read_bytes())
    assert carrier_warnings == []
    records, warnings = parse_all(carriers)
    return carriers, records, warnings


def read(**texts: Any) -> tuple[list[GenerationRecord], list[ParseWarning]]:
    """Records and warnings of carriers keyed by the keyword arguments (``sd_metadata`` -> ``sd-metadata``)."""
    carriers = []
    for key, value in texts.items():
        key = "sd-metadata" if key == "sd_metadata" else key
        text = value if isinstance(value, str) else json.dumps(value)
        carriers.append(Carrier(key, text, f"PNG tEXt '{key}'", container="png"))
    return parse_all(carriers)


def messages(warnings: list[ParseWarning]) -> str:
    return "\n".join(w.message for w in warnings)


def assert_current(record: GenerationRecord) -> None:
    assert record.tool == "InvokeAI"
    assert record.parser == "invokeai"
    assert record.prompt == "a red bicycle on a beach"
    assert record.negative_prompt == "blurry"
    assert (record.seed, record.steps, record.cfg) == (1234, 25, 7.0)
    assert (record.sampler, record.scheduler) == ("euler", None)
    assert (record.width, record.height) == (1024, 1024)
    assert record.model == CHECKPOINT
    assert record.loras == [LORA]
    assert record.vae is None and record.other_models == []
    assert record.extra["model_keys"] == MODEL_KEYS
    assert record.extra["generation_mode"] == "sdxl_txt2img"
    assert record.extra["positive_style_prompt"] == "a red bicycle on a beach"
    assert (record.extra["seamless_x"], record.extra["seamless_y"]) == (False, False)


# --- the demo images ----------------------------------------------------------------------------------


def test_invokeai_metadata_png(samples: dict[str, Path]) -> None:
    carriers, records, warnings = read_file(samples["invokeai_bicycle.png"])
    assert warnings == []
    assert len(records) == 1
    record = records[0]
    assert_current(record)
    assert record.tool_version == "5.6.0"
    assert record.extra["source"] == "invokeai_metadata"
    assert record.where == f"PNG tEXt 'invokeai_metadata' at byte 33; {carriers[1].where}"
    assert carriers[1].where.startswith("PNG tEXt 'invokeai_graph' at byte ")
    assert record.raw == json.dumps(demo.invokeai_metadata())


def test_legacy_sd_metadata_and_dream_png(samples: dict[str, Path]) -> None:
    carriers, records, warnings = read_file(samples["invokeai2_bicycle.png"])
    assert warnings == []
    assert len(records) == 1
    r = records[0]
    assert (r.tool, r.tool_version) == ("InvokeAI", "2.3.5")
    assert r.prompt == "a red bicycle on a beach [blurry]"
    assert r.negative_prompt == "blurry"
    assert (r.seed, r.steps, r.cfg, r.sampler, r.width, r.height) == (1234, 25, 7.0, "k_euler", 512, 512)
    assert r.model == ModelRef("checkpoint", "stable-diffusion-1.5", hash=demo.LEGACY_SHA256, hash_kind="sha256")
    assert r.loras == []
    assert r.extra["app_id"] == "invoke-ai/InvokeAI"
    assert r.extra["generation_mode"] == "txt2img"
    assert r.extra["dream"] == '"a red bicycle on a beach [blurry]" -s 25 -S 1234 -W 512 -H 512 -C 7.0 -A k_euler'
    by_key = {c.key: c for c in carriers}
    assert r.where == f"{by_key['sd-metadata'].where}; {by_key['Dream'].where}"


def test_dream_alone() -> None:
    records, warnings = read(Dream=demo.invokeai_dream())
    assert warnings == []
    r = records[0]
    assert r.prompt == "a red bicycle on a beach [blurry]"
    assert r.negative_prompt == "blurry"
    assert (r.seed, r.steps, r.cfg, r.sampler, r.width, r.height) == (1234, 25, 7.0, "k_euler", 512, 512)
    assert r.model is None and r.tool_version is None
    assert r.extra["source"] == "Dream"
    assert r.raw == demo.invokeai_dream()


class TestInvokeAI(ParserTestHelper):
    """The shared parser checks (exact records, one parser per carrier, truncated and flipped files, hostile
    texts) on the InvokeAI 5.x and 2.x demo files."""

    PARSER = "invokeai"

    def samples(self) -> list[Sample]:
        with tempfile.TemporaryDirectory() as folder:  # to find where the chunks lie (the files are deterministic)
            png = demo.write_invokeai_png(Path(folder))[0].read_bytes()
            legacy = demo.write_invokeai_legacy_png(Path(folder))[0].read_bytes()
        current = GenerationRecord(
            tool="InvokeAI",
            where="PNG tEXt 'invokeai_metadata' at byte 33; "
            f"PNG tEXt 'invokeai_graph' at byte {png_chunk_at(png, b'tEXt', 'invokeai_graph')}",
            parser="invokeai",
            raw=json.dumps(demo.invokeai_metadata()),
            tool_version="5.6.0",
            prompt=demo.PROMPT,
            negative_prompt=demo.NEGATIVE,
            seed=demo.SEED,
            steps=demo.STEPS,
            sampler="euler",
            cfg=7.0,
            width=1024,
            height=1024,
            model=CHECKPOINT,
            loras=[LORA],
            extra={
                "model_keys": MODEL_KEYS,
                "generation_mode": "sdxl_txt2img",
                "rand_device": "cpu",
                "cfg_rescale_multiplier": 0.0,
                "seamless_x": False,
                "seamless_y": False,
                "positive_style_prompt": demo.PROMPT,
                "negative_style_prompt": demo.NEGATIVE,
                "source": "invokeai_metadata",
            },
        )
        old = GenerationRecord(
            tool="InvokeAI",
            where=f"PNG tEXt 'sd-metadata' at byte {png_chunk_at(legacy, b'tEXt', 'sd-metadata')}; "
            "PNG tEXt 'Dream' at byte 33",
            parser="invokeai",
            raw=json.dumps(demo.invokeai_legacy_metadata()),
            tool_version="2.3.5",
            prompt="a red bicycle on a beach [blurry]",
            negative_prompt="blurry",
            seed=demo.SEED,
            steps=demo.STEPS,
            sampler="k_euler",
            cfg=7.0,
            width=512,
            height=512,
            model=ModelRef("checkpoint", "stable-diffusion-1.5", hash=demo.LEGACY_SHA256, hash_kind="sha256"),
            extra={
                "generation_mode": "txt2img",
                "seamless": False,
                "hires_fix": False,
                "threshold": 0,
                "perlin": 0,
                "app_id": "invoke-ai/InvokeAI",
                "dream": demo.invokeai_dream(),
            },
        )
        return [
            Sample("png", demo.write_invokeai_png, [current]),
            Sample("legacy png", demo.write_invokeai_legacy_png, [old]),
        ]


# --- fallbacks and older shapes ---------------------------------------------------------------------


def test_graph_core_metadata_node_when_metadata_is_missing() -> None:
    records, warnings = read(invokeai_graph=demo.invokeai_graph())
    assert warnings == []
    r = records[0]
    assert_current(r)
    assert r.tool_version is None  # the node adds the version when it runs: the graph has none
    assert r.extra["source"] == "invokeai_graph (core_metadata node)"


def test_graph_nodes_without_core_metadata() -> None:
    graph = demo.invokeai_graph()
    del graph["nodes"]["core_metadata:7"]
    graph["nodes"]["wan_lora_collection_loader:8"] = {"id": "w", "type": "wan_lora_collection_loader", "loras": []}
    records, warnings = read(invokeai_graph=graph)
    assert warnings == []  # an empty LoRA collection is no error
    r = records[0]
    assert (r.prompt, r.negative_prompt) == ("a red bicycle on a beach", "blurry")
    assert (r.seed, r.steps, r.cfg, r.sampler, r.width, r.height) == (1234, 25, 7.0, "euler", 1024, 1024)
    assert r.model == CHECKPOINT
    assert r.loras == [LORA]
    assert r.extra["source"] == "invokeai_graph (graph nodes)"


def test_unreadable_metadata_falls_back_to_the_graph() -> None:
    records, warnings = read(invokeai_metadata="{truncated", invokeai_graph=demo.invokeai_graph())
    assert_current(records[0])
    assert records[0].extra["source"] == "invokeai_graph (core_metadata node)"
    assert "InvokeAI invokeai_metadata is not readable JSON" in messages(warnings)


def test_node_editor_workflow() -> None:
    workflow = {
        "name": "bicycle",
        "nodes": [
            {
                "id": "a",
                "type": "invocation",
                "data": {
                    "id": "a",
                    "type": "main_model_loader",
                    "inputs": {"model": {"name": "model", "value": demo.invokeai_metadata()["model"]}},
                },
            },
            {
                "id": "b",
                "type": "invocation",
                "data": {
                    "id": "b",
                    "type": "compel",
                    "inputs": {"prompt": {"name": "prompt", "value": ""}},
                },
            },
            {  # the prompt comes from a string primitive wired into the encoder
                "id": "s",
                "type": "invocation",
                "data": {"id": "s", "type": "string", "inputs": {"value": {"name": "value", "value": "a red bicycle"}}},
            },
            {
                "id": "c",
                "type": "invocation",
                "data": {"id": "c", "type": "compel", "inputs": {"prompt": {"name": "prompt", "value": "blurry"}}},
            },
            {
                "id": "d",
                "type": "invocation",
                "data": {"id": "d", "type": "noise", "inputs": {"seed": {"value": 1234}, "width": {"value": 512}}},
            },
            {"id": "n", "type": "notes", "data": {"notes": "a note"}},
        ],
        "edges": [
            {"id": "x", "type": "collapsed", "source": "s", "target": "b"},
            {"source": "s", "sourceHandle": "value", "target": "b", "targetHandle": "prompt"},
            {"source": "b", "sourceHandle": "conditioning", "target": "e", "targetHandle": "positive_conditioning"},
            {"source": "c", "sourceHandle": "conditioning", "target": "e", "targetHandle": "negative_conditioning"},
        ],
    }
    records, warnings = read(invokeai_workflow=workflow)
    assert warnings == []
    r = records[0]
    assert (r.prompt, r.negative_prompt, r.seed, r.width, r.height) == ("a red bicycle", "blurry", 1234, 512, None)
    assert r.model == CHECKPOINT
    assert r.extra["source"] == "invokeai_workflow (graph nodes)"


def test_invokeai_3_references_without_hashes() -> None:
    meta = demo.invokeai_metadata()
    meta["model"] = {"model_name": "stable-diffusion-xl-base-1-0", "base_model": "sdxl", "model_type": "main"}
    meta["vae"] = {"model_name": "sdxl-vae-fp16-fix", "base_model": "sdxl"}
    meta["loras"] = [{"lora": {"model_name": "bicycle_style_v1", "base_model": "sdxl"}, "weight": 0.75}]
    meta["app_version"] = "3.4.0"
    records, warnings = read(invokeai_metadata=meta)
    assert warnings == []
    r = records[0]
    assert r.model == ModelRef("checkpoint", "stable-diffusion-xl-base-1-0", link="name-only")
    assert r.vae == ModelRef("vae", "sdxl-vae-fp16-fix", link="name-only")
    assert r.loras == [ModelRef("lora", "bicycle_style_v1", weight=0.75, link="name-only")]
    assert "model_keys" not in r.extra
    assert r.tool_version == "3.4.0"


def test_other_models_controlnet_ip_adapter_refiner() -> None:
    meta = demo.invokeai_metadata()
    ref = {"key": "k1", "hash": "md5:" + "ab" * 16, "name": "canny", "base": "sdxl", "type": "controlnet"}
    meta["controlnets"] = [{"control_model": ref, "control_weight": 0.6}]
    meta["ipAdapters"] = [
        {"ip_adapter_model": {"key": "k2", "hash": "sha256:" + "cd" * 32, "name": "ip", "base": "sdxl"}}
    ]
    meta["refiner_model"] = {"key": "k3", "hash": "random:" + "ef" * 32, "name": "refiner", "base": "sdxl-refiner"}
    records, warnings = read(invokeai_metadata=meta)
    assert warnings == []
    assert records[0].other_models == [
        ModelRef("checkpoint", "refiner", hash="ef" * 32, hash_kind="random", link="name-only"),
        ModelRef("controlnet", "canny", hash="ab" * 16, hash_kind="md5"),
        ModelRef("other", "ip", hash="cd" * 32, hash_kind="sha256"),
    ]
    assert [k["key"] for k in records[0].extra["model_keys"]] == [demo.CHECKPOINT_KEY, demo.LORA_KEY, "k3", "k1", "k2"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("BLAKE3:" + "A" * 64, ("a" * 64, "blake3", "hash")),
        ("sha256:" + "1" * 64, ("1" * 64, "sha256", "hash")),
        ("md5:" + "2" * 32, ("2" * 32, "md5", "hash")),
        ("random:" + "3" * 64, ("3" * 64, "random", "name-only")),
        ("sha512:" + "4" * 128, (None, None, "name-only")),
        ("blake3:" + "5" * 63, (None, None, "name-only")),
        ("blake3:" + "g" * 64, (None, None, "name-only")),
        ("0123abcd", (None, None, "name-only")),
        (12345, (None, None, "name-only")),
    ],
)
def test_hash_prefixes(value: Any, expected: tuple[str | None, str | None, str]) -> None:
    meta = demo.invokeai_metadata()
    meta["model"]["hash"] = value
    records, warnings = read(invokeai_metadata=meta)
    model = records[0].model
    assert model is not None
    assert (model.hash, model.hash_kind, model.link) == expected
    if expected[0] is None:
        assert records[0].extra["unrecognised_hashes"] == {"sd_xl_base_1.0": str(value)}
        assert len(warnings) == 1
    else:
        assert warnings == []


def test_sd_metadata_grid_and_weighted_subprompts() -> None:
    meta = demo.invokeai_legacy_metadata()
    image = meta.pop("image")
    image["prompt"] = [{"prompt": "a red bicycle", "weight": 1.0}, {"prompt": "a beach", "weight": 0.5}]
    second = copy.deepcopy(image)
    second["seed"] = 1235
    meta["images"] = [image, second]
    meta["grid"] = True
    meta["model_hash"] = "not-a-hash"
    records, warnings = read(sd_metadata=meta)
    assert [r.seed for r in records] == [1234, 1235]
    assert records[0].prompt == "a red bicycle:1.0,a beach:0.5"
    assert records[0].model == ModelRef("checkpoint", "stable-diffusion-1.5", link="name-only")
    assert "sd-metadata model_hash 'not-a-hash' is not a SHA-256" in messages(warnings)


# --- hostile input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [json.dumps(demo.invokeai_metadata())[:300], "[" * 5000 + "]" * 5000, '{"seed": 1, "steps": Infinity'],
    ids=["truncated", "deep", "broken"],
)
def test_unreadable_metadata_is_a_warning(text: str) -> None:
    records, warnings = read(invokeai_metadata=text, sd_metadata=text)
    assert records == []
    assert "InvokeAI invokeai_metadata is not readable JSON" in messages(warnings)
    assert "InvokeAI sd-metadata is not readable JSON" in messages(warnings)


def test_wrong_types_are_warnings() -> None:
    meta: dict[str, Any] = {
        "positive_prompt": ["not", "text"],
        "seed": "1234",
        "steps": 25.5,
        "cfg_scale": "high",
        "width": None,
        "model": "sd_xl_base_1.0",
        "vae": {"base": "sdxl"},
        "loras": [None, {"weight": 1}, {"model": {"name": "ok", "hash": "blake3:" + "0" * 64}, "weight": "heavy"}],
        "controlnets": "none",
        "app_version": 5,
    }
    records, warnings = read(invokeai_metadata=meta)
    r = records[0]
    assert (r.prompt, r.seed, r.steps, r.cfg, r.width, r.model, r.vae, r.tool_version) == (None,) * 8
    assert r.loras == [ModelRef("lora", "ok", hash="0" * 64, hash_kind="blake3")]
    text = messages(warnings)
    for expected in (
        "seed is not an integer: '1234'",
        "steps is not an integer: '25.5'",
        "positive_prompt is not text",
        "checkpoint reference is not an object",
        "vae reference without name, key or hash",
        "LoRA entry is not an object: 'None'",
        "LoRA entry without a model",
    ):
        assert expected in text


def test_metadata_that_is_not_an_object_and_empty_graph() -> None:
    records, warnings = read(invokeai_metadata=[1, 2], invokeai_graph={"nodes": "x"}, Dream='"unbalanced -s 5')
    assert records == []
    text = messages(warnings)
    assert "invokeai_metadata is not a JSON object" in text
    assert "Dream command line not readable" in text


def test_huge_graph_is_bounded() -> None:
    graph = demo.invokeai_graph()
    del graph["nodes"]["core_metadata:7"]
    for i in range(50_000):
        graph["nodes"][f"n{i}"] = {"id": f"n{i}", "type": "float"}
    records, warnings = read(invokeai_graph=graph)
    assert records[0].model == CHECKPOINT  # among the first nodes read
    assert "graph of 50,006 nodes: only the first 10,000 read" in messages(warnings)


@pytest.mark.parametrize("key", ["invokeai_metadata", "invokeai_graph", "sd_metadata"])
def test_mutated_documents_never_trip_the_safety_net(key: str) -> None:
    rng = random.Random(21)
    source = {
        "invokeai_metadata": demo.invokeai_metadata,
        "invokeai_graph": demo.invokeai_graph,
        "sd_metadata": demo.invokeai_legacy_metadata,
    }[key]()
    for _ in range(300):
        doc = mutated(source, rng)
        records, warnings = read(**{key: json.dumps(doc)})
        assert [w.message for w in warnings if " failed: " in w.message] == [], doc
        assert all(r.parser == "invokeai" for r in records)
