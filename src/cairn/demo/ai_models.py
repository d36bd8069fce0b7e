"""Benign, tiny AI model files for the demo (issue 13), written byte for byte here so that their hashes are
known before the AI sample pictures that name them are drawn.

Nothing here was trained: tensors are seeded noise of the right names and shapes. Files, in the folder layouts
of the tools that use them (A1111 ``models/Lora``, Fooocus ``models/loras``, SwarmUI ``Models/Lora``):

* ``beachStyle_v2.safetensors``: a kohya SD 1.x LoRA with training metadata (tags "bicycle", "beach", ...),
  named by the A1111 pictures' ``Lora hashes`` (AutoV3); ``beachStyle_v2_renamed.safetensors``: the same
  tensors with edited metadata (same AutoV3, another SHA-256);
* ``sd_xl_offset_example-lora_1.0.safetensors``: an SDXL LoRA without any metadata (diffusers/PEFT names),
  named by the Fooocus pictures (10 hex of the file's SHA-256);
* ``Beach/bicycle_style_v1.safetensors``: a LoRA named by the SwarmUI pictures (``0x`` + tensor SHA-256) and
  by the InvokeAI pictures (its BLAKE3);
* ``sandTexture.safetensors``: a textual-inversion embedding (A1111 ``TI hashes``, 12 hex of the file SHA-256);
* ``v1-5-pruned-emaonly.ckpt``: a legacy ``torch.save`` pickle checkpoint over 1 MiB (so it has an AutoV1)
  whose pickle also calls ``builtins.print`` with a benign text: harmless, outside the allowlist, flagged;
  A1111's ``Model hash`` (AutoV2) names it;
* ``tiny_unet.pt``: a PyTorch zip checkpoint (``archive/data.pkl`` + tensor records);
* ``vae-ft-mse-840000-ema-pruned.safetensors``: a VAE's encoder/decoder tensors;
* ``tiny-test-llm.gguf``: a GGUF file with benign metadata and a small vocabulary;
* ``tiny_classifier.onnx``: an ONNX graph (one MatMul);
* ``InvokeAI/models/sdxl/main/sd_xl_base_1.0/``: a diffusers folder (``model_index.json``, a UNet and a VAE
  as ``diffusion_pytorch_model.safetensors``), named by the InvokeAI pictures by its folder BLAKE3.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from cairn.demo.context import DemoContext, content_entry, contributor, file_time
from cairn.demo.manifest import BINARY, CONTAINER, TEXT, DemoEntry, member_path

#: Where the model files go in the demo tree (a user's AI tools folder).
MODELS_FOLDER = "Users/alex/AI"
#: The diffusers folder model, where InvokeAI keeps one (under MODELS_FOLDER).
DIFFUSERS_FOLDER = "InvokeAI/models/sdxl/main/sd_xl_base_1.0"
PROMPT_TAGS = {"bicycle": 14, "beach": 11, "red": 9, "sand": 4, "blue sky": 3}


def _noise(seed: int, shape: tuple[int, ...], dtype: str = "<f2") -> bytes:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(dtype).tobytes()


def safetensors_bytes(tensors: dict[str, tuple[str, tuple[int, ...], bytes]], metadata: dict[str, str] | None) -> bytes:
    """A safetensors file as the library writes one: header JSON (keys sorted, padded with spaces to 8 bytes),
    then the tensors' bytes in header order."""
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    body = bytearray()
    for name in sorted(tensors):
        dtype, shape, data = tensors[name]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        body += data
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + bytes(body)


def _lora(
    seed: int, blocks: list[tuple[str, int, int]], rank: int, style: str
) -> dict[str, tuple[str, tuple[int, ...], bytes]]:
    out: dict[str, tuple[str, tuple[int, ...], bytes]] = {}
    for i, (name, width_in, width_out) in enumerate(blocks):
        if style == "kohya":
            out[f"{name}.lora_down.weight"] = ("F16", (rank, width_in), _noise(seed + 2 * i, (rank, width_in)))
            out[f"{name}.lora_up.weight"] = ("F16", (width_out, rank), _noise(seed + 2 * i + 1, (width_out, rank)))
            out[f"{name}.alpha"] = ("F16", (), np.array(rank / 2, dtype="<f2").tobytes())
        else:
            out[f"{name}.lora_A.weight"] = ("F16", (rank, width_in), _noise(seed + 2 * i, (rank, width_in)))
            out[f"{name}.lora_B.weight"] = ("F16", (width_out, rank), _noise(seed + 2 * i + 1, (width_out, rank)))
    return out


KOHYA_BLOCKS = [
    ("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k", 768, 320),
    ("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_v", 768, 320),
    ("lora_unet_mid_block_attentions_0_transformer_blocks_0_attn1_to_q", 1280, 1280),
    ("lora_te_text_model_encoder_layers_0_self_attn_q_proj", 768, 768),
]
SDXL_BLOCKS = [
    ("unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k", 2048, 640),
    ("unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_v", 2048, 640),
]


def _kohya_metadata(output_name: str, comment: str) -> dict[str, str]:
    return {
        "ss_output_name": output_name,
        "ss_sd_model_name": "v1-5-pruned-emaonly.safetensors",
        "ss_base_model_version": "sd_v1",
        "ss_network_module": "networks.lora",
        "ss_network_dim": "8",
        "ss_network_alpha": "4.0",
        "ss_num_train_images": "40",
        "ss_seed": "42",
        "ss_resolution": "(512, 512)",
        "ss_training_comment": comment,
        "ss_training_started_at": "1735689600.0",
        "ss_training_finished_at": "1735693200.0",
        "ss_tag_frequency": json.dumps({"10_beach bicycles": PROMPT_TAGS}),
        "ss_dataset_dirs": json.dumps({"10_beach bicycles": {"n_repeats": 10, "img_count": 40}}),
    }


def _with_claim(tensors: dict[str, tuple[str, tuple[int, ...], bytes]], metadata: dict[str, str]) -> bytes:
    """The file with kohya's ``sshs_model_hash`` claim set to its tensor data's SHA-256, as sd-scripts does."""
    draft = safetensors_bytes(tensors, metadata)
    n = struct.unpack_from("<Q", draft)[0]
    claim = hashlib.sha256(draft[8 + n :]).hexdigest()
    return safetensors_bytes(tensors, {**metadata, "sshs_model_hash": claim})


# -- pickles, written opcode by opcode (protocol 2), as torch.save writes a state dict -----------------------


def _text(value: str) -> bytes:
    data = value.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def _int(value: int) -> bytes:
    return b"J" + struct.pack("<i", value)


def _ints(values: tuple[int, ...]) -> bytes:
    return b"(" + b"".join(_int(v) for v in values) + b"t"


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _state_dict_pickle(tensors: list[tuple[str, tuple[int, ...]]], legacy: bool, extra: bytes = b"") -> bytes:
    """A pickle of ``{"state_dict": OrderedDict(name -> tensor), ...extra}``; tensor ``i`` lives in storage
    ``str(i)`` (float16). ``extra`` is more SETITEMS key/value opcodes for the top dict."""
    out = bytearray(b"\x80\x02}(" + _text("state_dict") + _global("collections", "OrderedDict") + b")R(")
    for i, (name, shape) in enumerate(tensors):
        numel = int(np.prod(shape)) if shape else 1
        stride = tuple(int(np.prod(shape[k + 1 :])) for k in range(len(shape)))
        pid = b"(" + _text("storage") + _global("torch", "HalfStorage") + _text(str(i)) + _text("cpu") + _int(numel)
        pid += b"Nt" if legacy else b"t"  # legacy ids carry view metadata (None)
        out += _text(name) + _global("torch._utils", "_rebuild_tensor_v2")
        out += b"(" + pid + b"Q" + _int(0) + _ints(shape) + _ints(stride) + b"\x89"
        out += _global("collections", "OrderedDict") + b")Rt" + b"R"
    out += b"u" + extra + b"u."
    return bytes(out)


CKPT_TENSORS = [
    ("model.diffusion_model.input_blocks.0.0.weight", (320, 4, 3, 3)),
    ("model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight", (320, 768)),
    ("first_stage_model.decoder.conv_in.weight", (512, 4, 3, 3)),
    ("cond_stage_model.transformer.text_model.embeddings.token_embedding.weight", (400, 768)),
]
HARMLESS_CALL = "a red bicycle on a beach"


def legacy_checkpoint() -> bytes:
    """A legacy ``torch.save`` file: magic number, protocol version, sys info, the state pickle (whose top dict
    also holds ``builtins.print(HARMLESS_CALL)``: harmless, but code a loader would run), the storage keys, then
    each storage's element count and float16 bytes. Over 1 MiB, so it has an AutoV1 hash."""
    extra = _text("note") + _global("builtins", "print") + b"(" + _text(HARMLESS_CALL) + b"tR"
    parts = [
        b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.",
        b"\x80\x02M\xe9\x03.",
        b"\x80\x02}(" + _text("protocol_version") + b"M\xe9\x03" + _text("little_endian") + b"\x88u.",
        _state_dict_pickle(CKPT_TENSORS, legacy=True, extra=extra),
        b"\x80\x02(" + b"".join(_text(str(i)) for i in range(len(CKPT_TENSORS))) + b"l.",
    ]
    out = bytearray(b"".join(parts))
    for i, (_, shape) in enumerate(CKPT_TENSORS):
        numel = int(np.prod(shape))
        out += struct.pack("<q", numel) + _noise(100 + i, (numel,))
    return bytes(out)


UNET_TENSORS = [
    ("model.diffusion_model.input_blocks.0.0.weight", (320, 4, 3, 3)),
    ("model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight", (320, 768)),
    ("model.diffusion_model.out.2.weight", (4, 320, 3, 3)),
]


def zip_checkpoint() -> bytes:
    """A PyTorch zip checkpoint as ``torch.save`` writes one: stored members ``archive/data.pkl``,
    ``archive/byteorder``, ``archive/data/<key>``, ``archive/version``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(_fixed("archive/data.pkl"), _state_dict_pickle(UNET_TENSORS, legacy=False))
        archive.writestr(_fixed("archive/byteorder"), b"little")
        for i, (_, shape) in enumerate(UNET_TENSORS):
            archive.writestr(_fixed(f"archive/data/{i}"), _noise(200 + i, shape))
        archive.writestr(_fixed("archive/version"), b"3\n")
    return buffer.getvalue()


def _fixed(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    return info


# -- GGUF and ONNX, written by hand -------------------------------------------------------------------------


def _gguf_string(value: str) -> bytes:
    data = value.encode()
    return struct.pack("<Q", len(data)) + data


def gguf_file() -> bytes:
    """A GGUF v3 file: architecture, name, a benign vocabulary of 300 tokens, two F32/F16 tensors."""
    kv = [
        ("general.architecture", 8, _gguf_string("llama")),
        ("general.name", 8, _gguf_string("tiny test model")),
        ("llama.context_length", 4, struct.pack("<I", 128)),
        ("llama.embedding_length", 4, struct.pack("<I", 16)),
    ]
    tokens = [f"tok{i}" for i in range(290)] + [
        "bicycle",
        "beach",
        "red",
        "sand",
        "sky",
        "sea",
        "wheel",
        "sun",
        "wave",
        "shell",
    ]
    vocab = struct.pack("<IQ", 8, len(tokens)) + b"".join(_gguf_string(t) for t in tokens)
    kv.append(("tokenizer.ggml.tokens", 9, vocab))
    tensors = [("token_embd.weight", (16, 300), 0, 4), ("blk.0.attn_q.weight", (16, 16), 1, 2)]
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv)))
    for key, kind, value in kv:
        out += _gguf_string(key) + struct.pack("<I", kind) + value
    offset = 0
    for name, shape, ggml_type, itemsize in tensors:
        out += _gguf_string(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in shape)
        out += struct.pack("<IQ", ggml_type, offset)
        offset += -(-int(np.prod(shape)) * itemsize // 32) * 32
    out += b"\0" * (-len(out) % 32)
    for i, (_, shape, _, itemsize) in enumerate(tensors):
        data = _noise(300 + i, shape, "<f4" if itemsize == 4 else "<f2")
        out += data + b"\0" * (-len(data) % 32)
    return bytes(out)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _value_info(name: str, dims: list[int | str]) -> bytes:
    shape = b"".join(_field(1, _field(1, d) if isinstance(d, int) else _field(2, d.encode())) for d in dims)
    return _field(1, name.encode()) + _field(2, _field(1, _field(1, 1) + _field(2, shape)))


def onnx_file() -> bytes:
    """An ONNX ModelProto: producer, opset 17, a graph ``y = MatMul(x, w)`` with a 16x4 float initializer."""
    weights = _noise(400, (16, 4), "<f4")
    initializer = _field(1, 16) + _field(1, 4) + _field(2, 1) + _field(8, b"w") + _field(9, weights)
    node = _field(1, b"x") + _field(1, b"w") + _field(2, b"y") + _field(3, b"matmul0") + _field(4, b"MatMul")
    graph = (
        _field(1, node)
        + _field(2, b"tiny_classifier")
        + _field(5, initializer)
        + _field(11, _value_info("x", ["batch", 16]))
        + _field(12, _value_info("y", ["batch", 4]))
    )
    return (
        _field(1, 8)
        + _field(2, b"cairn-demo")
        + _field(3, b"1.0")
        + _field(7, graph)
        + _field(8, _field(2, 17))
        + _field(14, _field(1, b"purpose") + _field(2, b"a benign test classifier"))
    )


# -- the demo's files ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def model_files() -> dict[str, bytes]:
    """Every demo model file: path under :data:`MODELS_FOLDER` -> bytes (deterministic)."""
    beach = _lora(10, KOHYA_BLOCKS, 8, "kohya")
    beach_meta = _kohya_metadata("beachStyle_v2", "benign demo LoRA: red bicycles on a beach")
    files = {
        "stable-diffusion-webui/models/Lora/beachStyle_v2.safetensors": _with_claim(beach, beach_meta),
        "stable-diffusion-webui/models/Lora/beachStyle_v2_renamed.safetensors": _with_claim(
            beach, {**beach_meta, "ss_output_name": "beach_renamed", "ss_training_comment": "edited afterwards"}
        ),
        "Fooocus/models/loras/sd_xl_offset_example-lora_1.0.safetensors": safetensors_bytes(
            _lora(20, SDXL_BLOCKS, 4, "peft"), None
        ),
        "SwarmUI/Models/Lora/Beach/bicycle_style_v1.safetensors": safetensors_bytes(
            _lora(30, KOHYA_BLOCKS[:2], 4, "kohya"),
            {
                "modelspec.architecture": "stable-diffusion-v1/lora",
                "modelspec.title": "bicycle style",
                "modelspec.trigger_phrase": "red bicycle",
                "modelspec.author": "demo",
            },
        ),
        "stable-diffusion-webui/embeddings/sandTexture.safetensors": safetensors_bytes(
            {"emb_params": ("F32", (2, 768), _noise(40, (2, 768), "<f4"))}, None
        ),
        "stable-diffusion-webui/models/Stable-diffusion/v1-5-pruned-emaonly.ckpt": legacy_checkpoint(),
        "stable-diffusion-webui/models/Stable-diffusion/tiny_unet.pt": zip_checkpoint(),
        "stable-diffusion-webui/models/VAE/vae-ft-mse-840000-ema-pruned.safetensors": safetensors_bytes(
            {
                "encoder.down.0.block.0.conv1.weight": ("F16", (128, 128, 3, 3), _noise(50, (128, 128, 3, 3))),
                "decoder.up.0.block.0.conv1.weight": ("F16", (128, 128, 3, 3), _noise(51, (128, 128, 3, 3))),
                "quant_conv.weight": ("F16", (8, 8, 1, 1), _noise(52, (8, 8, 1, 1))),
            },
            None,
        ),
        "llm/tiny-test-llm.gguf": gguf_file(),
        "onnx/tiny_classifier.onnx": onnx_file(),
        f"{DIFFUSERS_FOLDER}/model_index.json": json.dumps(
            {
                "_class_name": "StableDiffusionPipeline",
                "_diffusers_version": "0.30.0",
                "unet": ["diffusers", "UNet2DConditionModel"],
                "vae": ["diffusers", "AutoencoderKL"],
            },
            indent=2,
        ).encode(),
        f"{DIFFUSERS_FOLDER}/unet/diffusion_pytorch_model.safetensors": safetensors_bytes(
            {
                "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight": (
                    "F16",
                    (640, 2048),
                    _noise(60, (640, 2048)),
                ),
                "conv_in.weight": ("F16", (320, 4, 3, 3), _noise(61, (320, 4, 3, 3))),
            },
            None,
        ),
        f"{DIFFUSERS_FOLDER}/vae/diffusion_pytorch_model.safetensors": safetensors_bytes(
            {"decoder.up_blocks.0.resnets.0.conv1.weight": ("F16", (64, 64, 3, 3), _noise(62, (64, 64, 3, 3)))},
            None,
        ),
    }
    return files


def folder_hash(folder: str = DIFFUSERS_FOLDER) -> str:
    """InvokeAI's BLAKE3 of a demo folder model (a placeholder without the ``blake3`` package)."""
    from cairn.signals.models.hashes import FOLDER_MODEL_EXTENSIONS, blake3_hex, folder_blake3

    parts = []
    for rel, data in model_files().items():
        if rel.startswith(f"{folder}/") and rel.endswith(FOLDER_MODEL_EXTENSIONS):
            digest = blake3_hex(data)
            if digest is None:
                return hashlib.sha256(f"cairn demo placeholder: {folder}".encode()).hexdigest()
            parts.append((tuple(rel[len(folder) + 1 :].split("/")), digest))
    found = folder_blake3(parts)
    assert found is not None
    return found


def file_hash(path_suffix: str, kind: str) -> str:
    """A demo model file's hash of one kind (``sha256``, ``autov2``, ``tensor_sha256``, ``autov3``,
    ``sha256_12``, ``autov1``), computed here from its bytes, as the tools that name it compute it."""
    (data,) = [v for k, v in model_files().items() if k.endswith(path_suffix)]
    full = hashlib.sha256(data).hexdigest()
    if kind in ("sha256", "autov2", "sha256_12"):
        return {"sha256": full, "autov2": full[:10], "sha256_12": full[:12]}[kind]
    if kind in ("tensor_sha256", "autov3"):
        n = struct.unpack_from("<Q", data)[0]
        tensor = hashlib.sha256(data[8 + n :]).hexdigest()
        return tensor if kind == "tensor_sha256" else tensor[:12]
    if kind == "blake3":
        from cairn.signals.models.hashes import blake3_hex

        return blake3_hex(data) or hashlib.sha256(f"cairn demo placeholder: {path_suffix}".encode()).hexdigest()
    if kind == "autov1":
        return hashlib.sha256(data[0x100000:0x110000]).hexdigest()[:8]
    raise ValueError(f"unknown hash kind {kind!r}")


def write_models(root: Path) -> list[Path]:
    """Write every demo model file under ``root / MODELS_FOLDER``; the paths written."""
    written = []
    for rel, data in model_files().items():
        path = root.joinpath(*MODELS_FOLDER.split("/"), *rel.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written


#: Manifest role of every demo model file.
AI_MODEL = "ai_model"


def _entries() -> list[DemoEntry]:
    """Manifest entries of every model file, and of the zip checkpoint's members."""
    out: list[DemoEntry] = []
    for rel, data in model_files().items():
        path = f"{MODELS_FOLDER}/{rel}"
        if rel.endswith(".pt"):
            out.append(content_entry(path, data, "zip", (CONTAINER, AI_MODEL)))
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                out.extend(content_entry(member_path(path, n), archive.read(n), BINARY, ()) for n in archive.namelist())
        else:
            out.append(content_entry(path, data, TEXT if rel.endswith(".json") else BINARY, (AI_MODEL,)))
    return out


@contributor("ai_models")
def ai_models(ctx: DemoContext) -> list[DemoEntry]:
    """The demo contributor: the model files under :data:`MODELS_FOLDER`, with fixed times."""
    for path in write_models(ctx.root):
        t = file_time(path.relative_to(ctx.root).as_posix())
        os.utime(path, (t, t))
    entries = _entries()
    ctx.report(len(entries))
    return entries
