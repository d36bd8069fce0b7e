"""SwarmUI: a JSON object ``{"sui_image_params": {...}, "sui_extra_data": {...}, "sui_models": [...]}``.

Written into PNG text ``parameters`` or EXIF UserComment (and, with StealthMetadata, the pixels). Parameter ids are
SwarmUI's lower-case names: ``prompt``, ``negativeprompt``, ``model``, ``seed``, ``steps``, ``cfgscale``,
``width``, ``height``, ``sampler``, ``scheduler``, ``vae``, ``loras`` and ``loraweights`` (JSON lists or
comma-separated text), ``swarm_version``; values may be numbers or text. ``sui_models`` (only with the
``ImageMetadataIncludeModelHash`` setting) lists ``{name, param, hash}``: ``hash`` is ``0x`` + 64 hex digits, the
SHA-256 of the safetensors tensor data (or the file's ``modelspec.hash_sha256``): hash kind ``tensor_sha256``.
A model named in the parameters but missing from ``sui_models`` is a name-only reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cairn.signals.provenance.parsers import ParseContext
from cairn.signals.provenance.parsers._common import as_float, as_int, as_text, cut, json_object, model_ref
from cairn.signals.provenance.record import Carrier, GenerationRecord, ModelRef

_TAKEN = {
    "prompt",
    "negativeprompt",
    "model",
    "seed",
    "steps",
    "cfgscale",
    "width",
    "height",
    "sampler",
    "scheduler",
    "vae",
    "loras",
    "loraweights",
    "swarm_version",
}
_ROLES = {"model": "checkpoint", "vae": "vae", "loras": "lora", "used_loras": "lora", "controlnetmodel": "controlnet"}


def _stem(name: str) -> str:
    return name.removesuffix(".safetensors").strip()


def _listed(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value[:256] if v is not None]
    if isinstance(value, str) and value.strip():
        return [v.strip() for v in value.split(",")][:256]
    return []


def _hashed(models: Any, ctx: ParseContext, where: str) -> list[tuple[str, ModelRef]]:
    """(param, reference) of each ``sui_models`` entry."""
    out: list[tuple[str, ModelRef]] = []
    if not isinstance(models, list):
        return out
    for item in models[:256]:
        if not isinstance(item, dict):
            continue
        param = str(item.get("param") or "")
        role = _ROLES.get(param.lower(), "lora" if "lora" in param.lower() else "other")
        digest = item.get("hash")
        ref = model_ref(role, item.get("name"), digest or None, "tensor_sha256", ctx=ctx, where=where)
        if ref is not None:
            out.append((param, ref))
    return out


def record_from_doc(doc: dict[str, Any], text: str, where: str, ctx: ParseContext) -> GenerationRecord:
    params = doc.get("sui_image_params")
    params = params if isinstance(params, dict) else {}
    raw, truncated = cut(text, ctx.limits)
    rec = GenerationRecord(
        tool="SwarmUI",
        where=where,
        parser="swarmui",
        raw=raw,
        raw_truncated=truncated,
        tool_version=as_text(params.get("swarm_version")),
        prompt=as_text(params.get("prompt")),
        negative_prompt=as_text(params.get("negativeprompt")),
        seed=as_int(params.get("seed")),
        steps=as_int(params.get("steps")),
        sampler=as_text(params.get("sampler")),
        scheduler=as_text(params.get("scheduler")),
        cfg=as_float(params.get("cfgscale")),
        width=as_int(params.get("width")),
        height=as_int(params.get("height")),
    )
    hashed = _hashed(doc.get("sui_models"), ctx, where)
    by_name = {_stem(ref.name): ref for _, ref in hashed if ref.name}
    model_name = as_text(params.get("model"))
    checkpoint = next((ref for param, ref in hashed if param == "model"), None)
    rec.model = (
        checkpoint or (by_name.get(_stem(model_name)) if model_name else None) or model_ref("checkpoint", model_name)
    )
    vae_name = as_text(params.get("vae"))
    rec.vae = next((ref for param, ref in hashed if param == "vae"), None) or (
        model_ref("vae", vae_name) if vae_name and vae_name.lower() not in ("none", "automatic") else None
    )
    weights = [as_float(w) for w in _listed(params.get("loraweights"))]
    used: set[int] = set()
    for i, name in enumerate(_listed(params.get("loras"))):
        weight = weights[i] if i < len(weights) else None
        found = by_name.get(_stem(name))
        if found is not None:
            used.add(id(found))
            rec.loras.append(ModelRef("lora", found.name, found.hash, found.hash_kind, weight=weight))
        else:
            ref = model_ref("lora", name, weight=weight)
            if ref is not None:
                rec.loras.append(ref)
    for _param, ref in hashed:
        if ref is rec.model or ref is rec.vae or id(ref) in used:
            continue
        (rec.loras if ref.role == "lora" else rec.other_models).append(ref)
    rec.extra = {k: v for k, v in params.items() if k not in _TAKEN}
    extra_data = doc.get("sui_extra_data")
    if isinstance(extra_data, dict):
        rec.extra["sui_extra_data"] = extra_data
    return rec


class SwarmUIParser:
    """SwarmUI's JSON record, wherever a carrier holds it."""

    name = "swarmui"
    order = 10

    def parse(self, carriers: Sequence[Carrier], ctx: ParseContext) -> list[GenerationRecord]:
        records: list[GenerationRecord] = []
        for carrier in carriers:
            text = carrier.text
            if not text or not text.lstrip().startswith("{") or '"sui_image_params"' not in text:
                continue
            doc = json_object(text, ctx, carrier.where, ctx.limits)
            if doc is None or not isinstance(doc.get("sui_image_params"), dict):
                continue
            ctx.claim(carrier)
            records.append(record_from_doc(doc, text, carrier.where, ctx))
        return records


PARSER = SwarmUIParser()
