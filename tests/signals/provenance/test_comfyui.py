"""ComfyUI records: the demo images as ComfyUI writes them (PNG tEXt, animated PNG comf chunks, WebP EXIF, a
workflow-only export), graph shapes beyond the demo, and hostile graphs (cycles, missing nodes, 50k nodes, deep
or truncated JSON, wrong types), each read through the carriers module and the parser registry."""

from __future__ import annotations

import copy
import json
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.signals.provenance.parser_helper import ParserTestHelper, Sample, png_chunk_at, riff_chunk_at

from cairn.demo import ai_samples_graphs as demo
from cairn.signals.provenance.carriers import extract_carriers
from cairn.signals.provenance.limits import ProvenanceLimits
from cairn.signals.provenance.parsers import ParseWarning, parse_all
from cairn.signals.provenance.record import Carrier, GenerationRecord, ModelRef

CHECKPOINT = ModelRef("checkpoint", "sd_xl_base_1.0.safetensors", link="name-only")
LORA = ModelRef("lora", "bicycle_style_v1.safetensors", weight=0.8, weight_clip=0.8, link="name-only")
VAE = ModelRef("vae", "sdxl_vae.safetensors", link="name-only")


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("comfyui_samples")
    paths = [p for writer in demo.WRITERS for p in writer(folder)]
    return {p.name: p for p in paths}


def read_file(path: Path) -> tuple[list[Carrier], list[GenerationRecord], list[ParseWarning]]:
    carriers, carrier_warnings = extract_carriers(path.read_bytes())
    assert carrier_warnings == []
    records, warnings = parse_all(carriers)
    return carriers, records, warnings


def read_graph(
    prompt: Any = None, workflow: Any = None, limits: ProvenanceLimits | None = None
) -> tuple[list[GenerationRecord], list[ParseWarning]]:
    """Records and warnings of a PNG-like pair of carriers (text given as is when it is a str)."""
    carriers = []
    for key, value in (("prompt", prompt), ("workflow", workflow)):
        if value is not None:
            text = value if isinstance(value, str) else json.dumps(value)
            carriers.append(Carrier(key, text, f"PNG tEXt '{key}'", container="png"))
    return parse_all(carriers, limits) if limits else parse_all(carriers)


def messages(warnings: list[ParseWarning]) -> str:
    return "\n".join(w.message for w in warnings)


def assert_demo_record(record: GenerationRecord) -> None:
    assert record.tool == "ComfyUI"
    assert record.parser == "comfyui"
    assert record.prompt == "a red bicycle on a beach"
    assert record.negative_prompt == "blurry"
    assert (record.seed, record.steps, record.cfg) == (1234, 25, 7.0)
    assert (record.sampler, record.scheduler) == ("euler", "normal")
    assert (record.width, record.height) == (1024, 1024)
    assert record.model == CHECKPOINT
    assert record.loras == [LORA]
    assert record.vae == VAE
    assert record.other_models == []
    assert record.extra["sampler_node"] == "3"
    assert record.extra["sampler_class"] == "KSampler"
    assert record.extra["denoise"] == 1.0
    assert record.extra["model_loader"] == "CheckpointLoaderSimple"
    assert record.extra["frontend_version"] == "1.10.17"
    assert record.extra["workflow_models"] == [
        {
            "name": "sd_xl_base_1.0.safetensors",
            "url": "https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/resolve/main/sd_xl_base_1.0.safetensors",
            "directory": "checkpoints",
        }
    ]
    assert all(m.hash is None and m.link == "name-only" for m in record.models())


# --- the demo images ----------------------------------------------------------------------------------


def test_png_text_chunks(samples: dict[str, Path]) -> None:
    carriers, records, warnings = read_file(samples["comfyui_bicycle.png"])
    assert warnings == []
    assert len(records) == 1
    record = records[0]
    assert_demo_record(record)
    assert record.where == "PNG tEXt 'prompt' at byte 33; " + carriers[1].where
    assert carriers[1].where.startswith("PNG tEXt 'workflow' at byte ")
    assert record.raw == json.dumps(demo.comfyui_prompt())
    assert record.extra["graph"] == "prompt"
    assert record.extra["graph_nodes"] == 9


def test_animated_png_comf_chunks(samples: dict[str, Path]) -> None:
    carriers, records, warnings = read_file(samples["comfyui_bicycle_animated.png"])
    assert warnings == []
    assert [c.key for c in carriers] == ["prompt", "workflow"]
    assert all(c.where.startswith("PNG comf '") for c in carriers)
    assert len(records) == 1
    assert_demo_record(records[0])
    assert records[0].where == f"{carriers[0].where}; {carriers[1].where}"


def test_webp_exif_ifd0_strings(samples: dict[str, Path]) -> None:
    carriers, records, warnings = read_file(samples["comfyui_bicycle.webp"])
    assert warnings == []
    by_key = {c.key: c for c in carriers}
    assert "0x0110 Model ('prompt:' prefix)" in by_key["prompt"].where
    assert "0x010F Make ('workflow:' prefix)" in by_key["workflow"].where
    assert len(records) == 1
    assert_demo_record(records[0])
    assert records[0].where == f"{by_key['prompt'].where}; {by_key['workflow'].where}"


def test_workflow_only_export_is_read_from_the_ui_graph(samples: dict[str, Path]) -> None:
    _carriers, records, warnings = read_file(samples["comfyui_workflow_only.png"])
    assert warnings == []
    assert len(records) == 1
    record = records[0]
    assert_demo_record(record)
    assert record.where == "PNG tEXt 'workflow' at byte 33"
    assert record.extra["graph"] == "workflow"
    assert record.raw == json.dumps(demo.comfyui_workflow())


def test_writers_are_deterministic(tmp_path: Path, samples: dict[str, Path]) -> None:
    for writer in demo.WRITERS:
        for path in writer(tmp_path):
            assert path.read_bytes() == samples[path.name].read_bytes()


def demo_record(where: str, raw: str, graph: str) -> GenerationRecord:
    """The exact record of the demo generation, read from ``graph`` ("prompt" or "workflow")."""
    return GenerationRecord(
        tool="ComfyUI",
        where=where,
        parser="comfyui",
        raw=raw,
        prompt=demo.PROMPT,
        negative_prompt=demo.NEGATIVE,
        seed=demo.SEED,
        steps=demo.STEPS,
        sampler="euler",
        scheduler="normal",
        cfg=7.0,
        width=1024,
        height=1024,
        model=CHECKPOINT,
        loras=[LORA],
        vae=VAE,
        extra={
            "graph": graph,
            "graph_nodes": 9,
            "sampler_node": "3",
            "sampler_class": "KSampler",
            "denoise": 1.0,
            "model_loader": "CheckpointLoaderSimple",
            "frontend_version": "1.10.17",
            "workflow_models": demo.comfyui_workflow()["models"],
        },
    )


class TestComfyUI(ParserTestHelper):
    """The shared parser checks (exact records, one parser per carrier, truncated and flipped files, hostile
    texts) on the four ComfyUI demo files."""

    PARSER = "comfyui"

    def samples(self) -> list[Sample]:
        with tempfile.TemporaryDirectory() as folder:  # to find where the chunks lie (the files are deterministic)
            written = {p.name: p.read_bytes() for w in demo.WRITERS[:4] for p in w(Path(folder))}
        prompt, workflow = json.dumps(demo.comfyui_prompt()), json.dumps(demo.comfyui_workflow())
        png, apng, webp = (
            written[n] for n in ("comfyui_bicycle.png", "comfyui_bicycle_animated.png", "comfyui_bicycle.webp")
        )
        exif = f"WebP EXIF at byte {riff_chunk_at(webp, b'EXIF')}: IFD0"
        return [
            Sample(
                "png",
                demo.write_comfyui_png,
                [
                    demo_record(
                        "PNG tEXt 'prompt' at byte 33; "
                        f"PNG tEXt 'workflow' at byte {png_chunk_at(png, b'tEXt', 'workflow')}",
                        prompt,
                        "prompt",
                    )
                ],
            ),
            Sample(
                "apng",
                demo.write_comfyui_apng,
                [
                    demo_record(
                        f"PNG comf 'prompt' at byte {png_chunk_at(apng, b'comf', 'prompt')}; "
                        f"PNG comf 'workflow' at byte {png_chunk_at(apng, b'comf', 'workflow')}",
                        prompt,
                        "prompt",
                    )
                ],
            ),
            Sample(
                "webp",
                demo.write_comfyui_webp,
                [
                    demo_record(
                        f"{exif} 0x0110 Model ('prompt:' prefix); {exif} 0x010F Make ('workflow:' prefix)",
                        prompt,
                        "prompt",
                    )
                ],
            ),
            Sample(
                "workflow only",
                demo.write_comfyui_workflow_only_png,
                [demo_record("PNG tEXt 'workflow' at byte 33", workflow, "workflow")],
            ),
        ]


# --- graph shapes beyond the demo -------------------------------------------------------------------


def custom_advanced_graph() -> dict[str, Any]:
    """A FLUX-style graph: UNETLoader, LoRA (model only), RandomNoise, KSamplerSelect, BasicScheduler, a
    CFGGuider fed through FluxGuidance, text from a PrimitiveString, latent from EmptySD3LatentImage."""
    return {
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux1-dev.safetensors", "weight_dtype": "default"}},
        "2": {
            "class_type": "LoraLoaderModelOnly",
            "inputs": {"model": ["1", 0], "lora_name": "bicycle_style_v1.safetensors", "strength_model": 0.8},
        },
        "3": {"class_type": "PrimitiveString", "inputs": {"value": "a red bicycle on a beach"}},
        "4": {"class_type": "CLIPTextEncode", "inputs": {"text": ["3", 0], "clip": ["9", 0]}},
        "5": {"class_type": "FluxGuidance", "inputs": {"conditioning": ["4", 0], "guidance": 3.5}},
        "6": {
            "class_type": "CFGGuider",
            "inputs": {"model": ["2", 0], "positive": ["5", 0], "negative": ["7", 0], "cfg": 1.0},
        },
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["9", 0]}},
        "8": {"class_type": "RandomNoise", "inputs": {"noise_seed": 1234}},
        "9": {
            "class_type": "DualCLIPLoader",
            "inputs": {"clip_name1": "t5xxl.safetensors", "clip_name2": "clip_l.safetensors"},
        },
        "10": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "11": {
            "class_type": "BasicScheduler",
            "inputs": {"model": ["2", 0], "scheduler": "simple", "steps": 25, "denoise": 1.0},
        },
        "12": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 896, "height": 1152, "batch_size": 1}},
        "13": {
            "class_type": "SamplerCustomAdvanced",
            "inputs": {
                "noise": ["8", 0],
                "guider": ["6", 0],
                "sampler": ["10", 0],
                "sigmas": ["11", 0],
                "latent_image": ["12", 0],
            },
        },
        "14": {"class_type": "VAELoader", "inputs": {"vae_name": "ae.safetensors"}},
        "15": {"class_type": "VAEDecode", "inputs": {"samples": ["13", 0], "vae": ["14", 0]}},
    }


def test_sampler_custom_advanced_follows_guider_sampler_sigmas_and_noise() -> None:
    records, warnings = read_graph(custom_advanced_graph())
    assert warnings == []
    assert len(records) == 1
    r = records[0]
    assert (r.seed, r.steps, r.cfg, r.sampler, r.scheduler) == (1234, 25, 1.0, "euler", "simple")
    assert (r.prompt, r.negative_prompt) == ("a red bicycle on a beach", "blurry")
    assert (r.width, r.height) == (896, 1152)
    assert r.model == ModelRef("checkpoint", "flux1-dev.safetensors", link="name-only")
    assert r.extra["model_loader"] == "UNETLoader"
    assert r.loras == [ModelRef("lora", "bicycle_style_v1.safetensors", weight=0.8, link="name-only")]
    assert r.vae == ModelRef("vae", "ae.safetensors", link="name-only")
    assert r.extra["sampler_class"] == "SamplerCustomAdvanced"


def test_conditioning_through_controlnet_combine_and_string_nodes() -> None:
    graph = demo.comfyui_prompt()
    graph["20"] = {"class_type": "PrimitiveString", "inputs": {"value": "golden hour"}}
    graph["21"] = {
        "class_type": "StringConcatenate",
        "inputs": {"string_a": "a red bicycle on a beach", "string_b": ["20", 0], "delimiter": ", "},
    }
    graph["6"]["inputs"]["text"] = ["21", 0]
    graph["22"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "palm trees", "clip": ["10", 1]}}
    graph["23"] = {
        "class_type": "ConditioningCombine",
        "inputs": {"conditioning_1": ["6", 0], "conditioning_2": ["22", 0]},
    }
    graph["24"] = {"class_type": "ControlNetLoader", "inputs": {"control_net_name": "canny.safetensors"}}
    graph["25"] = {
        "class_type": "ControlNetApplyAdvanced",
        "inputs": {
            "positive": ["23", 0],
            "negative": ["7", 0],
            "control_net": ["24", 0],
            "image": ["26", 0],
            "strength": 0.6,
        },
    }
    graph["26"] = {"class_type": "LoadImage", "inputs": {"image": "pose.png"}}
    graph["27"] = {  # a GLIGEN box: the prompt it adds to comes first, then its own text
        "class_type": "GLIGENTextBoxApply",
        "inputs": {"conditioning_to": ["23", 0], "clip": ["10", 1], "text": "a kite", "width": 64, "height": 64},
    }
    graph["25"]["inputs"]["positive"] = ["27", 0]
    graph["3"]["inputs"]["positive"] = ["25", 0]
    graph["3"]["inputs"]["negative"] = ["25", 1]
    records, warnings = read_graph(graph)
    assert warnings == []
    assert records[0].prompt == "a red bicycle on a beach, golden hour\npalm trees\na kite"
    assert records[0].negative_prompt == "blurry"


def test_hires_pass_is_its_own_record() -> None:
    graph = demo.comfyui_prompt()
    graph["30"] = {
        "class_type": "LatentUpscaleBy",
        "inputs": {"samples": ["3", 0], "upscale_method": "nearest-exact", "scale_by": 1.5},
    }
    graph["31"] = copy.deepcopy(graph["3"])
    graph["31"]["inputs"].update({"latent_image": ["30", 0], "denoise": 0.5, "seed": 99, "steps": 12})
    graph["8"]["inputs"]["samples"] = ["31", 0]
    records, warnings = read_graph(graph)
    assert warnings == []
    assert [r.extra["sampler_node"] for r in records] == ["3", "31"]
    first, second = records
    assert (first.width, first.seed, first.extra["denoise"]) == (1024, 1234, 1.0)
    assert first.vae is None  # its output goes to the upscale, not to a decode node
    assert (second.width, second.height, second.seed, second.steps) == (1536, 1536, 99, 12)
    assert second.extra["denoise"] == 0.5
    assert second.extra["latent_from_sampler"] == "3"
    assert second.vae == VAE
    assert second.model == CHECKPOINT and second.loras == [LORA]


def test_lora_stack_in_applying_order_and_a_seed_from_a_primitive() -> None:
    graph = demo.comfyui_prompt()
    graph["40"] = {
        "class_type": "LoraLoader",
        "inputs": {
            "model": ["10", 0],
            "clip": ["10", 1],
            "lora_name": "sand_detail.safetensors",
            "strength_model": 0.5,
            "strength_clip": 1.0,
        },
    }
    graph["41"] = {"class_type": "PrimitiveInt", "inputs": {"value": 777}}
    graph["3"]["inputs"]["model"] = ["40", 0]
    graph["3"]["inputs"]["seed"] = ["41", 0]
    records, warnings = read_graph(graph)
    assert warnings == []
    assert records[0].seed == 777
    assert records[0].loras == [
        LORA,
        ModelRef("lora", "sand_detail.safetensors", weight=0.5, weight_clip=1.0, link="name-only"),
    ]


def test_lora_stacks_core_and_rgthree() -> None:
    graph = demo.comfyui_prompt()
    graph["40"] = {  # the core LoRA stack as the API graph flattens its rows
        "class_type": "LoadLoraModel",
        "inputs": {
            "model": ["41", 0],
            "loras.1.lora_name": "a.safetensors",
            "loras.1.strength": 1,
            "loras.1.enabled": True,
            "loras.2.lora_name": "off.safetensors",
            "loras.2.strength": 1,
            "loras.2.enabled": False,
            "loras.10.lora_name": "c.safetensors",
            "loras.10.strength": 0.5,
            "loras.3.lora_name": "none",
            "loras.3.strength": 1,
            "loras.4.lora_name": "zero.safetensors",
            "loras.4.strength": 0,
        },
    }
    graph["41"] = {  # rgthree's Power Lora Loader
        "class_type": "Power Lora Loader (rgthree)",
        "inputs": {
            "model": ["10", 0],
            "clip": ["10", 1],
            "PowerLoraLoaderHeaderWidget": {"type": "PowerLoraLoaderHeaderWidget"},
            "lora_2": {"on": True, "lora": "e.safetensors", "strength": 0.7, "strengthTwo": None},
            "lora_1": {"on": True, "lora": "d.safetensors", "strength": 0.9, "strengthTwo": 0.4},
            "lora_3": {"on": False, "lora": "f.safetensors", "strength": 1},
            "➕ Add Lora": "",
        },
    }
    graph["3"]["inputs"]["model"] = ["40", 0]
    records, warnings = read_graph(graph)
    assert warnings == []
    assert records[0].loras == [
        LORA,
        ModelRef("lora", "d.safetensors", weight=0.9, weight_clip=0.4, link="name-only"),
        ModelRef("lora", "e.safetensors", weight=0.7, link="name-only"),
        ModelRef("lora", "a.safetensors", weight=1.0, link="name-only"),
        ModelRef("lora", "c.safetensors", weight=0.5, link="name-only"),
    ]


def test_efficiency_nodes_loader_with_prompts_lora_and_stack() -> None:
    graph: dict[str, Any] = {
        "1": {
            "class_type": "Efficient Loader",
            "inputs": {
                "ckpt_name": "sd_xl_base_1.0.safetensors",
                "vae_name": "Baked VAE",
                "clip_skip": -2,
                "lora_name": "bicycle_style_v1.safetensors",
                "lora_model_strength": 0.8,
                "lora_clip_strength": 0.8,
                "positive": "a red bicycle on a beach",
                "negative": "blurry",
                "empty_latent_width": 1024,
                "empty_latent_height": 768,
                "batch_size": 1,
                "lora_stack": ["2", 0],
            },
        },
        "2": {
            "class_type": "LoRA Stacker",
            "inputs": {
                "input_mode": "simple",
                "lora_count": 2,
                "lora_name_1": "sand_detail.safetensors",
                "lora_wt_1": 0.5,
                "lora_name_2": "None",
                "lora_wt_2": 1.0,
                "lora_name_3": "beyond_count.safetensors",
                "lora_wt_3": 1.0,
            },
        },
        "3": {
            "class_type": "KSampler (Efficient)",
            "inputs": {
                "model": ["1", 0],
                "positive": ["1", 1],
                "negative": ["1", 2],
                "latent_image": ["1", 3],
                "optional_vae": ["1", 4],
                "vae": ["1", 4],
                "seed": 1234,
                "steps": 25,
                "cfg": 7.0,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1.0,
            },
        },
    }
    records, warnings = read_graph(graph)
    assert warnings == []
    r = records[0]
    assert (r.prompt, r.negative_prompt) == ("a red bicycle on a beach", "blurry")
    assert (r.seed, r.steps, r.cfg, r.width, r.height) == (1234, 25, 7.0, 1024, 768)
    assert r.model == CHECKPOINT
    assert r.loras == [LORA, ModelRef("lora", "sand_detail.safetensors", weight=0.5, link="name-only")]
    assert r.vae is None and r.extra["vae_from"] == "Efficient Loader"


def test_old_boolean_control_widget_and_subgraph_warning() -> None:
    workflow = demo.comfyui_workflow()
    sampler = next(n for n in workflow["nodes"] if n["type"] == "KSampler")
    sampler["widgets_values"] = [1234, True, 25, 7.0, "euler", "normal", 1.0]  # older frontends: a boolean toggle
    workflow["nodes"].append({"id": 90, "type": "sub-1", "mode": 0, "inputs": [], "outputs": []})
    workflow["definitions"] = {"subgraphs": [{"id": "sub-1", "nodes": [{"id": 1, "type": "KSampler"}], "links": []}]}
    records, warnings = read_graph(workflow=workflow)
    assert_demo_record(records[0])
    assert messages(warnings) == "workflow uses 1 subgraph or group node type(s): the nodes inside them are not read"


def test_workflow_bypass_mute_reroute_and_no_control_widget() -> None:
    workflow = demo.comfyui_workflow()
    nodes = {n["id"]: n for n in workflow["nodes"]}
    nodes[10]["mode"] = 4  # LoRA bypassed: MODEL and CLIP pass straight through
    nodes[3]["widgets_values"] = [1234, 25, 7.0, "euler", "normal", 1.0]  # an old workflow: no control widget
    # a Reroute between the negative encoder and the sampler
    workflow["nodes"].append(
        {
            "id": 50,
            "type": "Reroute",
            "mode": 0,
            "inputs": [{"name": "", "type": "*", "link": 7}],
            "outputs": [{"name": "", "type": "CONDITIONING", "links": [12]}],
        }
    )
    workflow["links"][6] = [7, 7, 0, 50, 0, "CONDITIONING"]
    workflow["links"].append([12, 50, 0, 3, 2, "CONDITIONING"])
    nodes[3]["inputs"][2]["link"] = 12
    # a muted second checkpoint loader that feeds nothing
    workflow["nodes"].append(
        {"id": 60, "type": "CheckpointLoaderSimple", "mode": 2, "widgets_values": ["unused.safetensors"]}
    )
    records, warnings = read_graph(workflow=workflow)
    assert warnings == []
    r = records[0]
    assert (r.seed, r.steps, r.cfg, r.sampler, r.scheduler) == (1234, 25, 7.0, "euler", "normal")
    assert r.negative_prompt == "blurry"
    assert r.model == CHECKPOINT
    assert r.loras == []
    assert r.extra["graph_nodes"] == 8  # 11 nodes less the bypassed LoRA, the Reroute and the muted loader


def test_workflow_bypassed_node_passes_each_output_its_own_input() -> None:
    workflow = demo.comfyui_workflow()
    sampler = next(n for n in workflow["nodes"] if n["type"] == "KSampler")
    # a bypassed node with positive/negative in and out between the encoders and the sampler (outputs 0 and 1 are
    # both CONDITIONING: each passes on the input at its own index, not the first CONDITIONING input)
    workflow["nodes"].append(
        {
            "id": 70,
            "type": "LTXVAddGuide",
            "mode": 4,
            "inputs": [
                {"name": "positive", "type": "CONDITIONING", "link": 6},
                {"name": "negative", "type": "CONDITIONING", "link": 7},
            ],
            "outputs": [{"name": "positive", "type": "CONDITIONING"}, {"name": "negative", "type": "CONDITIONING"}],
            "widgets_values": [0, 1],
        }
    )
    workflow["links"][5] = [6, 6, 0, 70, 0, "CONDITIONING"]
    workflow["links"][6] = [7, 7, 0, 70, 1, "CONDITIONING"]
    workflow["links"] += [[20, 70, 0, 3, 1, "CONDITIONING"], [21, 70, 1, 3, 2, "CONDITIONING"]]
    sampler["inputs"][1]["link"], sampler["inputs"][2]["link"] = 20, 21
    records, warnings = read_graph(workflow=workflow)
    assert warnings == []
    assert (records[0].prompt, records[0].negative_prompt) == ("a red bicycle on a beach", "blurry")


@pytest.mark.parametrize(
    ("widget_inputs", "size"),
    [(["width", "height"], (640, 480)), (["height"], (None, None))],
    ids=["every widget listed", "converted widgets only"],
)
def test_workflow_widget_names_from_inputs_only_when_complete(
    widget_inputs: list[str], size: tuple[int | None, int | None]
) -> None:
    workflow = demo.comfyui_workflow()
    latent = next(n for n in workflow["nodes"] if n["type"] == "EmptyLatentImage")
    latent["type"] = "CustomEmptyLatent"  # not in the widget table
    latent["inputs"] = [{"name": n, "type": "INT", "widget": {"name": n}, "link": None} for n in widget_inputs]
    latent["widgets_values"] = [640, 480]
    records, warnings = read_graph(workflow=workflow)
    assert warnings == []
    assert (records[0].width, records[0].height) == size


def test_workflow_links_as_objects_schema_1() -> None:
    workflow = demo.comfyui_workflow()
    workflow["links"] = [
        {"id": k[0], "origin_id": k[1], "origin_slot": k[2], "target_id": k[3], "target_slot": k[4], "type": k[5]}
        for k in workflow["links"]
    ]
    workflow["version"] = 1
    records, warnings = read_graph(workflow=workflow)
    assert warnings == []
    assert_demo_record(records[0])


def test_prompt_text_that_is_no_graph_is_left_alone() -> None:
    records, warnings = read_graph("a red bicycle on a beach")
    assert records == [] and warnings == []


# --- hostile graphs -----------------------------------------------------------------------------------


def test_cyclic_model_and_conditioning_links() -> None:
    graph = demo.comfyui_prompt()
    graph["10"]["inputs"]["model"] = ["10", 0]  # the LoRA loads onto itself
    graph["6"] = {
        "class_type": "ConditioningCombine",
        "inputs": {"conditioning_1": ["60", 0], "conditioning_2": ["61", 0]},
    }
    graph["60"] = {
        "class_type": "ConditioningCombine",
        "inputs": {"conditioning_1": ["6", 0], "conditioning_2": ["6", 0]},
    }
    graph["61"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "a red bicycle on a beach", "clip": ["10", 1]}}
    graph["5"]["inputs"] = {"samples": ["3", 0]}  # the latent comes from the sampler's own output
    records, warnings = read_graph(graph)
    assert len(records) == 1
    r = records[0]
    assert r.loras == [LORA]
    assert r.model is None
    assert r.prompt == "a red bicycle on a beach"
    assert r.negative_prompt == "blurry"
    assert r.width is None
    assert "cycle in the graph at node '10'" in messages(warnings)
    assert "cycle in the graph at node '6'" in messages(warnings)


def test_a_model_merged_with_itself_is_no_cycle() -> None:
    graph = demo.comfyui_prompt()
    graph["50"] = {"class_type": "ModelMergeSimple", "inputs": {"model1": ["10", 0], "model2": ["10", 0], "ratio": 0.5}}
    graph["3"]["inputs"]["model"] = ["50", 0]
    records, warnings = read_graph(graph)
    assert warnings == []
    assert records[0].model == CHECKPOINT and records[0].loras == [LORA]


def test_links_to_missing_nodes() -> None:
    graph = demo.comfyui_prompt()
    graph["3"]["inputs"]["positive"] = ["99", 0]
    graph["10"]["inputs"]["model"] = ["404", 0]
    del graph["11"]  # the decode node's VAE
    records, warnings = read_graph(graph)
    r = records[0]
    assert r.prompt is None and r.model is None and r.vae is None
    assert r.loras == [LORA] and r.negative_prompt == "blurry" and r.seed == 1234
    text = messages(warnings)
    assert "link to missing node '99'" in text
    assert "link to missing node '404'" in text
    assert "link to missing node '11'" in text


def test_fifty_thousand_nodes_are_bounded() -> None:
    graph: dict[str, Any] = {"0": copy.deepcopy(demo.comfyui_prompt()["3"])}
    graph["0"]["inputs"]["model"] = ["1", 0]
    for i in range(1, 50_000):  # a chain of model patches, the first 100 of them LoRAs (short, to stay under 4 MiB)
        inputs: dict[str, Any] = {"model": [str(i + 1), 0]}
        if i <= 100:
            inputs["lora_name"] = f"l{i}"
        graph[str(i)] = {"class_type": "P", "inputs": inputs}
    text = json.dumps(graph, separators=(",", ":"))
    assert len(text) < ProvenanceLimits().max_text
    records, warnings = read_graph(text)
    assert len(records) == 1
    assert [lora.name for lora in records[0].loras] == [f"l{i}" for i in range(100, 0, -1)]
    assert records[0].model is None
    text = messages(warnings)
    assert "graph of 50,000 nodes: only the first 10,000 read" in text
    assert "link to missing node '10000'" in text


def test_walk_budget_stops_a_long_chain_and_keeps_what_it_read() -> None:
    graph: dict[str, Any] = {"0": copy.deepcopy(demo.comfyui_prompt()["3"])}
    graph["0"]["inputs"]["model"] = ["1", 0]
    for i in range(1, 500):
        graph[str(i)] = {
            "class_type": "LoraLoaderModelOnly",
            "inputs": {"model": [str(i + 1), 0], "lora_name": f"l{i}"},
        }
    records, warnings = read_graph(graph, limits=ProvenanceLimits(max_walk_steps=100))
    assert len(records) == 1
    assert records[0].seed == 1234 and records[0].steps == 25
    assert records[0].model is None and len(records[0].loras) == 100
    assert "graph walk stopped after 100 steps: the last record is partial" in messages(warnings)


def test_exponential_conditioning_fan_is_bounded() -> None:
    graph = demo.comfyui_prompt()
    graph["3"]["inputs"]["positive"] = ["100", 0]
    for i in range(100, 160):  # each combine node feeds both inputs from the next: 2^60 paths
        graph[str(i)] = {
            "class_type": "ConditioningCombine",
            "inputs": {"conditioning_1": [str(i + 1), 0], "conditioning_2": [str(i + 1), 0]},
        }
    graph["160"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "a red bicycle on a beach", "clip": ["10", 1]}}
    records, warnings = read_graph(graph)
    assert len(records) == 1
    assert records[0].prompt == "a red bicycle on a beach"  # found on the first path, kept when the walk ended
    assert records[0].seed == 1234 and records[0].model == CHECKPOINT
    assert "graph walk stopped after 100,000 steps: the last record is partial" in messages(warnings)


def test_a_huge_node_reached_by_many_paths_costs_by_its_size() -> None:
    graph = demo.comfyui_prompt()
    graph["3"]["inputs"]["positive"] = ["100", 0]
    for i in range(100, 140):  # 2^40 paths to one node of 100,000 inputs
        graph[str(i)] = {
            "class_type": "ConditioningCombine",
            "inputs": {"conditioning_1": [str(i + 1), 0], "conditioning_2": [str(i + 1), 0]},
        }
    inputs: dict[str, Any] = {f"x{j}": 0 for j in range(100_000)}
    inputs.update({"text": "a red bicycle on a beach", "clip": ["10", 1]})
    graph["140"] = {"class_type": "CLIPTextEncode", "inputs": inputs}
    records, warnings = read_graph(graph)
    assert records[0].prompt == "a red bicycle on a beach"
    assert messages(warnings) == "graph walk stopped after 100,000 steps: the last record is partial"


def test_deep_conditioning_chain_is_cut() -> None:
    graph = demo.comfyui_prompt()
    graph["3"]["inputs"]["positive"] = ["1000", 0]
    for i in range(1000, 1500):
        graph[str(i)] = {"class_type": "ConditioningSetTimestepRange", "inputs": {"conditioning": [str(i + 1), 0]}}
    graph["1500"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "a red bicycle on a beach", "clip": ["10", 1]}}
    records, warnings = read_graph(graph)
    assert records[0].prompt is None
    assert records[0].negative_prompt == "blurry"
    assert "conditioning path longer than 200 nodes: not followed further" in messages(warnings)


def test_many_samplers_give_at_most_max_records() -> None:
    graph = demo.comfyui_prompt()
    for i in range(100, 200):
        graph[str(i)] = copy.deepcopy(graph["3"])
    records, warnings = read_graph(graph)
    assert len(records) == 32
    assert "101 sampler nodes: records for the first 32 only" in messages(warnings)


def test_wrong_types_are_warnings() -> None:
    graph: dict[str, Any] = demo.comfyui_prompt()
    graph["3"]["inputs"].update({"seed": "1234", "steps": 2.5, "cfg": "high", "sampler_name": 7, "denoise": None})
    graph["4"]["inputs"]["ckpt_name"] = 12
    graph["5"]["inputs"]["width"] = "big"
    graph["6"]["inputs"]["text"] = {"not": "text"}
    graph["10"]["inputs"]["strength_model"] = "strong"
    graph["70"] = "not a node"
    graph["71"] = {"class_type": 5, "inputs": {}}
    graph["72"] = {"class_type": "Note", "inputs": ["a", "list"]}
    records, warnings = read_graph(graph)
    r = records[0]
    assert (r.seed, r.steps, r.cfg, r.sampler, r.width) == (None, None, None, None, None)
    assert r.prompt is None
    assert r.model is None  # a checkpoint name that is not text names nothing
    assert r.loras == [ModelRef("lora", "bicycle_style_v1.safetensors", weight_clip=0.8, link="name-only")]
    text = messages(warnings)
    assert "3 node(s) without a class_type or with inputs that are not an object: skipped" in text
    assert "seed is not an integer: '1234'" in text
    assert "steps is not an integer: '2.5'" in text


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(demo.comfyui_prompt())[:700],  # truncated
        "[" * 5000 + "]" * 5000,  # nested past the depth limit
        '{"3": {"class_type": "KSampler", "inputs": {"seed": NaN',  # broken
    ],
    ids=["truncated", "deep", "broken"],
)
def test_unreadable_json_is_a_warning_not_a_record(text: str) -> None:
    records, warnings = read_graph(text, workflow=json.dumps(demo.comfyui_workflow())[:900])
    assert records == []
    assert "ComfyUI prompt is not readable JSON" in messages(warnings)
    assert "ComfyUI workflow is not readable JSON" in messages(warnings)


def test_graph_that_is_not_an_object() -> None:
    records, warnings = read_graph([1, 2, 3], workflow={"nodes": "none"})
    assert records == []
    text = messages(warnings)
    assert "ComfyUI prompt JSON is neither an API graph nor a workflow" in text
    assert "ComfyUI workflow JSON is neither an API graph nor a workflow" in text


def test_graphs_are_told_by_shape_not_key() -> None:
    records, warnings = read_graph(prompt=demo.comfyui_workflow(), workflow=demo.comfyui_prompt())  # swapped
    assert warnings == []
    assert [r.extra["graph"] for r in records] == ["prompt"]
    assert records[0].where == "PNG tEXt 'workflow'; PNG tEXt 'prompt'"
    assert_demo_record(records[0])


def test_hostile_workflow_links() -> None:
    workflow = demo.comfyui_workflow()
    workflow["links"].append("junk")
    workflow["links"][2] = [3, 999, 0, 3, 0, "MODEL"]  # the sampler's model from a node that is not there
    workflow["nodes"].append(["not", "a", "node"])
    # two reroutes feeding each other
    workflow["nodes"].append(
        {"id": 80, "type": "Reroute", "mode": 0, "inputs": [{"name": "", "type": "*", "link": 81}]}
    )
    workflow["nodes"].append(
        {"id": 81, "type": "Reroute", "mode": 0, "inputs": [{"name": "", "type": "*", "link": 80}]}
    )
    workflow["links"] += [[80, 80, 0, 81, 0, "*"], [81, 81, 0, 80, 0, "*"], [82, 80, 0, 3, 3, "LATENT"]]
    next(n for n in workflow["nodes"] if isinstance(n, dict) and n["id"] == 3)["inputs"][3]["link"] = 82
    records, warnings = read_graph(workflow=workflow)
    r = records[0]
    assert r.model is None and r.loras == []
    assert r.width is None
    assert r.seed == 1234 and r.prompt == "a red bicycle on a beach"
    assert "link to missing node '999'" in messages(warnings)


#: Values mutations put anywhere in a document: wrong types, links to missing or wrong nodes, odd LoRA rows.
JUNK: list[Any] = [
    None,
    1,
    -1,
    0,
    "x",
    "",
    [],
    {},
    [["1", 0]],
    {"a": 1},
    True,
    1e308,
    ["999", 0],
    ["3", 0],
    ["3", 1],
    ["4", 2],
    [3, 0],
    "none",
    {"on": True, "lora": 5},
    {"model": []},
    {"hash": 5},
    "blake3:zz",
]


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield from _paths(value, (*prefix, index))


def mutated(doc: Any, rng: random.Random) -> Any:
    """A copy of ``doc`` with one to six values anywhere in it replaced by ``JUNK``."""
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 6)):
        path = rng.choice(list(_paths(doc)))
        value = copy.deepcopy(rng.choice(JUNK))
        if not path:
            doc = value
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = value
    return doc


@pytest.mark.parametrize("key", ["prompt", "workflow"])
def test_mutated_graphs_never_trip_the_safety_net(key: str) -> None:
    rng = random.Random(12)
    source = demo.comfyui_prompt() if key == "prompt" else demo.comfyui_workflow()
    for _ in range(300):
        doc = mutated(source, rng)
        records, warnings = read_graph(**{key: json.dumps(doc)})
        assert [w.message for w in warnings if " failed: " in w.message] == [], doc
        assert all(r.parser == "comfyui" for r in records)
