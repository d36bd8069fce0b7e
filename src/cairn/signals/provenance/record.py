"""The normalised generation record, model references with their hash kinds, and carriers.

Promises: a model or LoRA hash is never stored without its hash kind (``HASH_KINDS`` says what each covers,
so the model-file issue can recompute it on files found on a device); a reference known only by its file name
has ``hash=None`` and ``link="name-only"`` (a weak link, labelled so); every record keeps the raw text it came
from (cut to a bound) and ``where`` in the file it was found, so a finding can be explained and re-checked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: Hash kinds of model references, and what each one covers.
HASH_KINDS: dict[str, str] = {
    "autov1": "A1111's old model hash: SHA-256 of 64 KiB at offset 1 MiB of the file, first 8 hex digits",
    "autov2": "SHA-256 of the whole file, first 10 hex digits (A1111 'Model hash', Fooocus, Civitai AutoV2)",
    "autov3": "SHA-256 of a safetensors file's tensor data (after its header), first 12 hex digits (A1111 "
    "'Lora hashes'; often the file's own sshs_model_hash claim rather than a recomputation)",
    "tensor_sha256": "SHA-256 of a safetensors file's tensor data, all 64 hex digits (SwarmUI, modelspec.hash_sha256)",
    "sha256": "SHA-256 of the whole file, all 64 hex digits",
    "sha256_12": "SHA-256 of the whole file, first 12 hex digits (A1111 'TI hashes' of textual-inversion embeddings)",
    "blake3": "BLAKE3 of the whole file, or for a folder model of its files' concatenated digests (InvokeAI)",
    "md5": "MD5 of the whole file",
    "novelai": "the hexadecimal code NovelAI writes after the model name in Source (its definition is not public)",
    "random": "an identifier InvokeAI made up instead of a hash: it names no content",
}

#: What a model reference is to the generation.
ROLES = ("checkpoint", "lora", "vae", "embedding", "controlnet", "upscaler", "other")


@dataclass(frozen=True)
class ModelRef:
    """A model the record names: its role, name and, where known, hash with hash kind and weights."""

    role: str
    name: str | None = None
    hash: str | None = None  # lower-case hex, without prefixes such as "blake3:" or "0x"
    hash_kind: str | None = None  # a key of HASH_KINDS; None exactly when hash is None
    weight: float | None = None  # LoRA strength (A1111 <lora:name:w>, ComfyUI strength_model)
    weight_clip: float | None = None  # ComfyUI strength_clip
    link: str = "hash"  # "hash", or "name-only" when only a file name ties it to a model

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown model role {self.role!r}")
        if (self.hash is None) != (self.hash_kind is None):
            raise ValueError("a model hash needs its hash kind, and a hash kind needs a hash")
        if self.hash_kind is not None and self.hash_kind not in HASH_KINDS:
            raise ValueError(f"unknown hash kind {self.hash_kind!r}")


@dataclass(frozen=True)
class Carrier:
    """One piece of a file that may hold a record: its key (a PNG keyword, an EXIF tag name, "xmp", ...), its
    text (decoded) or raw bytes, and where it was found, in words a reviewer can check with another tool."""

    key: str
    text: str | None
    where: str
    data: bytes | None = None
    container: str = ""  # "png", "jpeg", "webp", "gif", "avif", "pixels"


@dataclass
class GenerationRecord:
    """One tool's record of how an image was made, normalised across tools."""

    tool: str  # "A1111", "Forge", "ComfyUI", "InvokeAI", "NovelAI", "Fooocus", "SwarmUI", ...
    where: str  # the carrier(s) it came from
    parser: str  # the parser's name
    raw: str  # the source text, cut to the bound (raw_truncated says so)
    tool_version: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    steps: int | None = None
    sampler: str | None = None
    scheduler: str | None = None
    cfg: float | None = None
    width: int | None = None
    height: int | None = None
    model: ModelRef | None = None
    loras: list[ModelRef] = field(default_factory=list)
    vae: ModelRef | None = None
    other_models: list[ModelRef] = field(default_factory=list)  # embeddings, ControlNets, upscalers ...
    extra: dict[str, Any] = field(default_factory=dict)  # the tool's other settings, as read
    raw_truncated: bool = False

    def models(self) -> list[ModelRef]:
        """Every model reference of the record: checkpoint, VAE, LoRAs, then the others."""
        return [m for m in (self.model, self.vae) if m is not None] + self.loras + self.other_models

    def as_dict(self) -> dict[str, Any]:
        """The record as the case database stores it (a finding's data) and ``cairn files`` shows it."""
        return asdict(self)
