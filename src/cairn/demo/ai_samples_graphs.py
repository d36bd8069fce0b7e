"""Benign demo images carrying generation records the way ComfyUI and InvokeAI write them.

Every picture is a drawn beach with a red bicycle (no model made it); the records describe one benign
generation: checkpoint ``sd_xl_base_1.0.safetensors``, LoRA ``bicycle_style_v1.safetensors`` at 0.8, seed 1234,
25 steps, CFG 7.0, euler / normal, prompt "a red bicycle on a beach", negative "blurry".

How each tool writes them (read from the tools' public source):

* ComfyUI ``SaveImage``: PNG tEXt ``prompt`` (the API graph, ``json.dumps``) and one tEXt per extra-info key
  (``workflow``, the UI graph); ``SaveAnimatedPNG``: the same as private ``comf`` chunks after the image data
  (``key\\0json``); ``SaveAnimatedWEBP``: EXIF IFD0 strings, ``prompt:{json}`` at 0x0110 (Model) and each extra
  key counting down from 0x010F (Make). An exported "workflow image" carries only ``workflow``.
* InvokeAI (3.x and later): PNG tEXt ``invokeai_metadata`` (the core metadata JSON) and ``invokeai_graph``;
  model references ``{key, hash, name, base, type}`` with ``hash`` = ``blake3:<hex>``. InvokeAI 2.x: tEXt
  ``Dream`` (its command line) and ``sd-metadata`` (JSON, RFC 266 shape) with a whole-file SHA-256
  ``model_hash``.

``WRITERS`` lists functions ``(folder) -> [paths written]`` for the demo's AI-samples hook. The model hashes are
digests of placeholder labels (there is no model file), stable so tests can expect them.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, PngImagePlugin

from cairn.demo.ai_models import file_hash, folder_hash

PROMPT = "a red bicycle on a beach"
NEGATIVE = "blurry"
CHECKPOINT = "sd_xl_base_1.0.safetensors"
LORA = "bicycle_style_v1.safetensors"
LORA_WEIGHT = 0.8
VAE = "sdxl_vae.safetensors"
SEED = 1234
STEPS = 25
CFG = 7.0
SAMPLER = "euler"
SCHEDULER = "normal"
WIDTH = HEIGHT = 1024
#: The InvokeAI demo image is SD 1.5 sized for the 2.x legacy record, SDXL for the current one.
LEGACY_SIZE = 512

#: Placeholder digests standing in for model hashes (no model file exists): stable, 64 hex digits.
CHECKPOINT_BLAKE3 = folder_hash()  # the demo's diffusers folder (ai_models), as InvokeAI hashes a folder
LORA_BLAKE3 = file_hash("Beach/bicycle_style_v1.safetensors", "blake3")
LEGACY_SHA256 = hashlib.sha256(b"cairn demo placeholder: v1-5-pruned-emaonly.ckpt").hexdigest()
CHECKPOINT_KEY = "6f1c0b52-3c3e-4d7a-9a51-2f6c8e0d7b10"
LORA_KEY = "0c8d9e2a-7b41-4f36-8e12-5a9b3c4d6e70"
INVOKEAI_VERSION = "5.6.0"
LEGACY_VERSION = "2.3.5"


def picture(width: int, height: int) -> Image.Image:
    """A drawn beach with a red bicycle: sky, sea, sand, two wheels and a frame."""
    img = Image.new("RGB", (width, height), (150, 200, 235))
    draw = ImageDraw.Draw(img)
    horizon, shore = height * 45 // 100, height * 60 // 100
    for y in range(horizon):
        shade = 170 + 60 * y // max(1, horizon)
        draw.line([(0, y), (width, y)], fill=(120, min(255, shade), 240))
    draw.rectangle([0, horizon, width, shore], fill=(40, 110, 170))
    draw.rectangle([0, shore, width, height], fill=(225, 200, 140))
    r = width // 9
    cy = height * 78 // 100
    left, right = width * 35 // 100, width * 65 // 100
    line = max(2, width // 90)
    for cx in (left, right):
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(200, 20, 30), width=line)
    top = cy - r
    mid = (left + right) // 2
    red = (210, 25, 35)
    draw.line([(left, cy), (mid, cy), (mid + r // 2, top), (left + r // 2, top), (left, cy)], fill=red, width=line)
    draw.line([(mid + r // 2, top), (right, cy)], fill=red, width=line)
    draw.line([(left + r // 2, top), (left + r // 3, top - r // 3)], fill=(40, 40, 40), width=line)
    draw.line([(mid + r // 2, top), (mid + r // 2, top - r // 2)], fill=(40, 40, 40), width=line)
    return img


# --- ComfyUI ------------------------------------------------------------------------------------------


def comfyui_prompt() -> dict[str, Any]:
    """The API graph ComfyUI executes (and writes as ``prompt``): checkpoint, LoRA, two encoders, latent,
    KSampler, a separate VAE, decode and save."""
    return {
        "3": {
            "inputs": {
                "seed": SEED,
                "steps": STEPS,
                "cfg": CFG,
                "sampler_name": SAMPLER,
                "scheduler": SCHEDULER,
                "denoise": 1.0,
                "model": ["10", 0],
                "positive": ["6", 0],
                "negative": ["7", 0],
                "latent_image": ["5", 0],
            },
            "class_type": "KSampler",
            "_meta": {"title": "KSampler"},
        },
        "4": {
            "inputs": {"ckpt_name": CHECKPOINT},
            "class_type": "CheckpointLoaderSimple",
            "_meta": {"title": "Load Checkpoint"},
        },
        "5": {
            "inputs": {"width": WIDTH, "height": HEIGHT, "batch_size": 1},
            "class_type": "EmptyLatentImage",
            "_meta": {"title": "Empty Latent Image"},
        },
        "6": {
            "inputs": {"text": PROMPT, "clip": ["10", 1]},
            "class_type": "CLIPTextEncode",
            "_meta": {"title": "CLIP Text Encode (Prompt)"},
        },
        "7": {
            "inputs": {"text": NEGATIVE, "clip": ["10", 1]},
            "class_type": "CLIPTextEncode",
            "_meta": {"title": "CLIP Text Encode (Prompt)"},
        },
        "8": {
            "inputs": {"samples": ["3", 0], "vae": ["11", 0]},
            "class_type": "VAEDecode",
            "_meta": {"title": "VAE Decode"},
        },
        "9": {
            "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]},
            "class_type": "SaveImage",
            "_meta": {"title": "Save Image"},
        },
        "10": {
            "inputs": {
                "lora_name": LORA,
                "strength_model": LORA_WEIGHT,
                "strength_clip": LORA_WEIGHT,
                "model": ["4", 0],
                "clip": ["4", 1],
            },
            "class_type": "LoraLoader",
            "_meta": {"title": "Load LoRA"},
        },
        "11": {"inputs": {"vae_name": VAE}, "class_type": "VAELoader", "_meta": {"title": "Load VAE"}},
    }


def _ui_node(
    node_id: int,
    node_type: str,
    order: int,
    inputs: list[tuple[str, str, int | None]],
    outputs: list[tuple[str, str, list[int]]],
    widgets: list[Any] | None,
) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": node_id,
        "type": node_type,
        "pos": [100 + 300 * (order % 4), 100 + 250 * (order // 4)],
        "size": [315, 100],
        "flags": {},
        "order": order,
        "mode": 0,
        "inputs": [{"name": n, "type": t, "link": link} for n, t, link in inputs],
        "outputs": [{"name": n, "type": t, "links": links, "slot_index": i} for i, (n, t, links) in enumerate(outputs)],
        "properties": {"Node name for S&R": node_type},
    }
    if widgets is not None:
        node["widgets_values"] = widgets
    return node


def comfyui_workflow() -> dict[str, Any]:
    """The UI graph of the same generation (what ComfyUI writes as ``workflow``), schema 0.4."""
    # links: [id, origin node, origin slot, target node, target slot, type]
    links = [
        [1, 4, 0, 10, 0, "MODEL"],
        [2, 4, 1, 10, 1, "CLIP"],
        [3, 10, 0, 3, 0, "MODEL"],
        [4, 10, 1, 6, 0, "CLIP"],
        [5, 10, 1, 7, 0, "CLIP"],
        [6, 6, 0, 3, 1, "CONDITIONING"],
        [7, 7, 0, 3, 2, "CONDITIONING"],
        [8, 5, 0, 3, 3, "LATENT"],
        [9, 3, 0, 8, 0, "LATENT"],
        [10, 11, 0, 8, 1, "VAE"],
        [11, 8, 0, 9, 0, "IMAGE"],
    ]
    nodes = [
        _ui_node(
            4,
            "CheckpointLoaderSimple",
            0,
            [],
            [("MODEL", "MODEL", [1]), ("CLIP", "CLIP", [2]), ("VAE", "VAE", [])],
            [CHECKPOINT],
        ),
        _ui_node(11, "VAELoader", 1, [], [("VAE", "VAE", [10])], [VAE]),
        _ui_node(5, "EmptyLatentImage", 2, [], [("LATENT", "LATENT", [8])], [WIDTH, HEIGHT, 1]),
        _ui_node(
            10,
            "LoraLoader",
            3,
            [("model", "MODEL", 1), ("clip", "CLIP", 2)],
            [("MODEL", "MODEL", [3]), ("CLIP", "CLIP", [4, 5])],
            [LORA, LORA_WEIGHT, LORA_WEIGHT],
        ),
        _ui_node(6, "CLIPTextEncode", 4, [("clip", "CLIP", 4)], [("CONDITIONING", "CONDITIONING", [6])], [PROMPT]),
        _ui_node(7, "CLIPTextEncode", 5, [("clip", "CLIP", 5)], [("CONDITIONING", "CONDITIONING", [7])], [NEGATIVE]),
        _ui_node(
            3,
            "KSampler",
            6,
            [
                ("model", "MODEL", 3),
                ("positive", "CONDITIONING", 6),
                ("negative", "CONDITIONING", 7),
                ("latent_image", "LATENT", 8),
            ],
            [("LATENT", "LATENT", [9])],
            [SEED, "fixed", STEPS, CFG, SAMPLER, SCHEDULER, 1.0],
        ),
        _ui_node(8, "VAEDecode", 7, [("samples", "LATENT", 9), ("vae", "VAE", 10)], [("IMAGE", "IMAGE", [11])], None),
        _ui_node(9, "SaveImage", 8, [("images", "IMAGE", 11)], [], ["ComfyUI"]),
    ]
    return {
        "last_node_id": 11,
        "last_link_id": 11,
        "nodes": nodes,
        "links": links,
        "groups": [],
        "config": {},
        "extra": {"ds": {"scale": 1.0, "offset": [0, 0]}, "frontendVersion": "1.10.17"},
        "models": [
            {
                "name": CHECKPOINT,
                "url": "https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/resolve/main/sd_xl_base_1.0.safetensors",
                "directory": "checkpoints",
            }
        ],
        "version": 0.4,
    }


def _png_text(img: Image.Image, texts: list[tuple[str, str]]) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in texts:
        info.add_text(key, value)
    out = io.BytesIO()
    img.save(out, "PNG", pnginfo=info, compress_level=4)
    return out.getvalue()


def _write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def write_comfyui_png(folder: Path) -> list[Path]:
    """ComfyUI's SaveImage: tEXt ``prompt`` and ``workflow``."""
    data = _png_text(
        picture(WIDTH, HEIGHT),
        [("prompt", json.dumps(comfyui_prompt())), ("workflow", json.dumps(comfyui_workflow()))],
    )
    return [_write(folder, "comfyui_bicycle.png", data)]


def write_comfyui_workflow_only_png(folder: Path) -> list[Path]:
    """An exported "workflow image": tEXt ``workflow`` only (no API graph)."""
    data = _png_text(picture(WIDTH // 2, HEIGHT // 2), [("workflow", json.dumps(comfyui_workflow()))])
    return [_write(folder, "comfyui_workflow_only.png", data)]


def write_comfyui_webp(folder: Path) -> list[Path]:
    """ComfyUI's SaveAnimatedWEBP (one frame): EXIF IFD0 ``prompt:`` at 0x0110 and ``workflow:`` at 0x010F."""
    img = picture(WIDTH, HEIGHT)
    exif = img.getexif()
    exif[0x0110] = f"prompt:{json.dumps(comfyui_prompt())}"
    exif[0x010F] = f"workflow:{json.dumps(comfyui_workflow())}"
    out = io.BytesIO()
    img.save(out, "WEBP", save_all=True, duration=166, exif=exif, lossless=False, quality=80, method=4)
    return [_write(folder, "comfyui_bicycle.webp", out.getvalue())]


def write_comfyui_apng(folder: Path) -> list[Path]:
    """ComfyUI's SaveAnimatedPNG: two frames, ``comf`` chunks (``key\\0json``) after the image data."""
    frames = [
        picture(WIDTH // 4, HEIGHT // 4),
        picture(WIDTH // 4, HEIGHT // 4).transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    ]
    info = PngImagePlugin.PngInfo()
    info.add(b"comf", b"prompt\0" + json.dumps(comfyui_prompt()).encode("latin-1"), after_idat=True)
    info.add(b"comf", b"workflow\0" + json.dumps(comfyui_workflow()).encode("latin-1"), after_idat=True)
    out = io.BytesIO()
    frames[0].save(out, "PNG", pnginfo=info, compress_level=4, save_all=True, duration=166, append_images=frames[1:])
    return [_write(folder, "comfyui_bicycle_animated.png", out.getvalue())]


# --- InvokeAI -----------------------------------------------------------------------------------------


def invokeai_metadata() -> dict[str, Any]:
    """InvokeAI's core metadata (``invokeai_metadata``) for an SDXL text-to-image generation with a LoRA."""
    return {
        "generation_mode": "sdxl_txt2img",
        "positive_prompt": PROMPT,
        "negative_prompt": NEGATIVE,
        "width": WIDTH,
        "height": HEIGHT,
        "seed": SEED,
        "rand_device": "cpu",
        "cfg_scale": CFG,
        "cfg_rescale_multiplier": 0.0,
        "steps": STEPS,
        "scheduler": "euler",
        "seamless_x": False,
        "seamless_y": False,
        "model": {
            "key": CHECKPOINT_KEY,
            "hash": f"blake3:{CHECKPOINT_BLAKE3}",
            "name": "sd_xl_base_1.0",
            "base": "sdxl",
            "type": "main",
        },
        "loras": [
            {
                "model": {
                    "key": LORA_KEY,
                    "hash": f"blake3:{LORA_BLAKE3}",
                    "name": "bicycle_style_v1",
                    "base": "sdxl",
                    "type": "lora",
                },
                "weight": LORA_WEIGHT,
            }
        ],
        "positive_style_prompt": PROMPT,
        "negative_style_prompt": NEGATIVE,
        "regions": [],
        "app_version": INVOKEAI_VERSION,
    }


def invokeai_graph() -> dict[str, Any]:
    """The executed graph InvokeAI stores as ``invokeai_graph`` (trimmed to the nodes that matter)."""
    metadata = invokeai_metadata()
    model = metadata["model"]
    lora = metadata["loras"][0]["model"]
    nodes: dict[str, Any] = {
        "sdxl_model_loader:1": {"id": "sdxl_model_loader:1", "type": "sdxl_model_loader", "model": model},
        "sdxl_lora_collection_loader:2": {
            "id": "sdxl_lora_collection_loader:2",
            "type": "sdxl_lora_collection_loader",
            "loras": [{"lora": lora, "weight": LORA_WEIGHT}],
        },
        "positive_prompt:3": {
            "id": "positive_prompt:3",
            "type": "sdxl_compel_prompt",
            "prompt": PROMPT,
            "style": PROMPT,
        },
        "negative_prompt:4": {
            "id": "negative_prompt:4",
            "type": "sdxl_compel_prompt",
            "prompt": NEGATIVE,
            "style": NEGATIVE,
        },
        "noise:5": {"id": "noise:5", "type": "noise", "seed": SEED, "width": WIDTH, "height": HEIGHT, "use_cpu": True},
        "sdxl_denoise_latents:6": {
            "id": "sdxl_denoise_latents:6",
            "type": "denoise_latents",
            "cfg_scale": CFG,
            "scheduler": "euler",
            "steps": STEPS,
            "denoising_start": 0.0,
            "denoising_end": 1.0,
        },
        "core_metadata:7": {"id": "core_metadata:7", "type": "core_metadata", **copy.deepcopy(metadata)},
    }
    del nodes["core_metadata:7"]["app_version"]  # the node adds it when it runs
    edges = [
        {
            "source": {"node_id": "positive_prompt:3", "field": "conditioning"},
            "destination": {"node_id": "sdxl_denoise_latents:6", "field": "positive_conditioning"},
        },
        {
            "source": {"node_id": "negative_prompt:4", "field": "conditioning"},
            "destination": {"node_id": "sdxl_denoise_latents:6", "field": "negative_conditioning"},
        },
        {
            "source": {"node_id": "noise:5", "field": "noise"},
            "destination": {"node_id": "sdxl_denoise_latents:6", "field": "noise"},
        },
        {
            "source": {"node_id": "sdxl_model_loader:1", "field": "unet"},
            "destination": {"node_id": "sdxl_lora_collection_loader:2", "field": "unet"},
        },
        {
            "source": {"node_id": "sdxl_lora_collection_loader:2", "field": "unet"},
            "destination": {"node_id": "sdxl_denoise_latents:6", "field": "unet"},
        },
    ]
    return {"id": "sdxl_graph:demo", "nodes": nodes, "edges": edges}


def invokeai_legacy_metadata() -> dict[str, Any]:
    """InvokeAI 2.x ``sd-metadata`` (RFC 266 shape): the negative prompt is the bracketed part."""
    return {
        "model": "stable diffusion",
        "model_id": "stable-diffusion-1.5",
        "model_hash": LEGACY_SHA256,
        "app_id": "invoke-ai/InvokeAI",
        "app_version": LEGACY_VERSION,
        "image": {
            "prompt": [{"prompt": f"{PROMPT} [{NEGATIVE}]", "weight": 1.0}],
            "steps": STEPS,
            "cfg_scale": CFG,
            "threshold": 0,
            "perlin": 0,
            "height": LEGACY_SIZE,
            "width": LEGACY_SIZE,
            "seed": SEED,
            "seamless": False,
            "hires_fix": False,
            "type": "txt2img",
            "postprocessing": None,
            "sampler": "k_euler",
            "variations": [],
        },
    }


def invokeai_dream() -> str:
    """InvokeAI 2.x's ``Dream`` command line for the same generation."""
    return f'"{PROMPT} [{NEGATIVE}]" -s {STEPS} -S {SEED} -W {LEGACY_SIZE} -H {LEGACY_SIZE} -C {CFG} -A k_euler'


def write_invokeai_png(folder: Path) -> list[Path]:
    """InvokeAI 3.x and later: tEXt ``invokeai_metadata`` and ``invokeai_graph``."""
    data = _png_text(
        picture(WIDTH, HEIGHT),
        [("invokeai_metadata", json.dumps(invokeai_metadata())), ("invokeai_graph", json.dumps(invokeai_graph()))],
    )
    return [_write(folder, "invokeai_bicycle.png", data)]


def write_invokeai_legacy_png(folder: Path) -> list[Path]:
    """InvokeAI 2.x: tEXt ``Dream`` then ``sd-metadata``."""
    data = _png_text(
        picture(LEGACY_SIZE, LEGACY_SIZE),
        [("Dream", invokeai_dream()), ("sd-metadata", json.dumps(invokeai_legacy_metadata()))],
    )
    return [_write(folder, "invokeai2_bicycle.png", data)]


#: The writers, for the demo's AI-samples hook: each writes into ``folder`` and returns the paths written.
WRITERS: tuple[Callable[[Path], list[Path]], ...] = (
    write_comfyui_png,
    write_comfyui_workflow_only_png,
    write_comfyui_webp,
    write_comfyui_apng,
    write_invokeai_png,
    write_invokeai_legacy_png,
)
