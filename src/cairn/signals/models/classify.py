"""What a model file is, from its tensor names and shapes (and, for GGUF, its declared architecture).

Kinds: ``checkpoint`` (a full image-generation model), ``unet`` (a diffusion model without text encoder and
VAE), ``lora`` (kohya, diffusers/PEFT), ``lycoris`` (LoHa, LoKr, OFT, ...), ``embedding`` (textual inversion),
``vae``, ``text_encoder``, ``llm``, ``other``. Families where the tensors tell: ``sd1``, ``sd2``, ``sdxl``,
``sd3``, ``flux``. The reason is kept in words, so a reviewer can check the call. LoRAs are recognised by their
tensor names, so one without kohya metadata is still a LoRA.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: (name, shape) of tensors, as the readers list them.
Tensor = tuple[str, tuple[int, ...]]

_LYCORIS = re.compile(
    r"\.(hada_w[12]_[ab]|hada_t[12]|lokr_w[12](_[ab])?|lokr_t2|oft_blocks|oft_diag|b1\.weight|w_norm)"
)
_LORA = re.compile(r"\.(lora_down|lora_up|lora_A|lora_B|lora\.down|lora\.up|lora_linear_layer\.(down|up))\.weight$")
_KOHYA_PREFIX = re.compile(r"^lora_(unet|te\d?)_")


@dataclass(frozen=True)
class ModelKind:
    """A model file's kind, family (or None) and the reason in words."""

    kind: str
    family: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "family": self.family, "reason": self.reason}


def classify(tensors: Iterable[Tensor], metadata: Mapping[str, Any] | None = None) -> ModelKind:
    """The kind of a model from its tensors (names and shapes); ``metadata`` (safetensors ``__metadata__`` or
    GGUF key/values) breaks ties and names families the tensors do not."""
    meta = metadata or {}
    listed = list(tensors)
    names = [n for n, _ in listed]
    shapes = dict(listed)
    if not listed:
        arch = meta.get("general.architecture")
        if isinstance(arch, str):
            return ModelKind("llm", None, f"GGUF general.architecture {arch!r}")
        return ModelKind("other", None, "no tensors listed")
    lycoris = sum(1 for n in names if _LYCORIS.search(n))
    lora = sum(1 for n in names if _LORA.search(n))
    if lycoris and lycoris + lora >= len(names) // 4:
        return ModelKind("lycoris", _lora_family(names, shapes, meta), f"{lycoris} LyCORIS tensors (LoHa/LoKr/OFT)")
    if lora and lora >= len(names) // 3:
        return ModelKind("lora", _lora_family(names, shapes, meta), f"{lora} of {len(names)} tensors are LoRA pairs")
    embedding = _embedding(names, shapes)
    if embedding is not None:
        return embedding
    family = _family(names, shapes)
    has_unet = any(n.startswith("model.diffusion_model.") for n in names)
    has_vae = any(n.startswith("first_stage_model.") for n in names)
    has_text = any(n.startswith(("cond_stage_model.", "conditioner.", "text_encoders.")) for n in names)
    if has_unet and (has_vae or has_text):
        return ModelKind("checkpoint", family, "diffusion model with VAE and/or text encoder (model.diffusion_model.*)")
    if has_unet or any(
        n.startswith(("double_blocks.", "joint_blocks.", "down_blocks.", "input_blocks.")) for n in names
    ):
        return ModelKind("unet", family, "a diffusion model alone (no VAE, no text encoder)")
    if any(n.startswith(("encoder.down.", "decoder.up.", "encoder.down_blocks.", "decoder.up_blocks.")) for n in names):
        return ModelKind("vae", None, "encoder/decoder blocks only (an autoencoder)")
    if (
        any(re.match(r"^(model\.)?layers\.\d+\.(self_attn|attention)\.", n) for n in names)
        or "lm_head.weight" in shapes
    ):
        return ModelKind("llm", None, "transformer decoder layers (model.layers.*, lm_head)")
    if any(n.startswith(("text_model.", "transformer.text_model.", "encoder.block.")) for n in names):
        return ModelKind("text_encoder", None, "a text encoder alone (CLIP/T5)")
    return ModelKind("other", family, "no known tensor layout")


def _embedding(names: list[str], shapes: dict[str, tuple[int, ...]]) -> ModelKind | None:
    keys = set(names)
    if keys & {"emb_params", "string_to_param.*", "string_to_param"} or keys <= {"clip_l", "clip_g"} and keys:
        widths = {shapes[n][-1] for n in names if shapes.get(n)}
        family = "sdxl" if "clip_g" in keys else {768: "sd1", 1024: "sd2"}.get(next(iter(widths), 0))
        return ModelKind("embedding", family, f"textual-inversion vectors ({', '.join(sorted(keys))})")
    return None


def _cross_attention_width(names: list[str], shapes: dict[str, tuple[int, ...]]) -> int | None:
    for name in names:
        if name.endswith("attn2.to_k.weight") and len(shapes.get(name, ())) == 2:
            return shapes[name][1]
    return None


def _family(names: list[str], shapes: dict[str, tuple[int, ...]]) -> str | None:
    if any("double_blocks." in n for n in names) and any("single_blocks." in n for n in names):
        return "flux"
    if any("joint_blocks." in n for n in names):
        return "sd3"
    if any(n.startswith("conditioner.embedders.1.") or n.endswith("label_emb.0.0.weight") for n in names):
        return "sdxl"
    width = _cross_attention_width(names, shapes)
    return {768: "sd1", 1024: "sd2", 2048: "sdxl"}.get(width or 0)


def _lora_family(names: list[str], shapes: dict[str, tuple[int, ...]], meta: Mapping[str, Any]) -> str | None:
    declared = str(meta.get("ss_base_model_version") or meta.get("modelspec.architecture") or "").lower()
    for needle, family in (("flux", "flux"), ("sdxl", "sdxl"), ("sd3", "sd3"), ("v2", "sd2"), ("sd_v1", "sd1")):
        if needle in declared:
            return family
    if any("double_blocks" in n for n in names):
        return "flux"
    if any(n.startswith(("lora_te2_", "lora_te1_")) for n in names):
        return "sdxl"
    for name in names:  # a cross-attention key's LoRA down matrix is rank x context width
        if "attn2_to_k" in name.replace(".", "_") and name.endswith(("lora_down.weight", "lora_A.weight")):
            width = shapes.get(name, ())
            if len(width) == 2:
                return {768: "sd1", 1024: "sd2", 2048: "sdxl"}.get(width[1])
    return None


def kohya_style(names: Iterable[str]) -> bool:
    """Whether the tensor names are kohya sd-scripts' (``lora_unet_*``, ``lora_te_*``)."""
    return any(_KOHYA_PREFIX.match(n) for n in names)
