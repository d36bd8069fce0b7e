"""Fooocus: its JSON scheme and its A1111 scheme, in PNG text chunks or EXIF.

How Fooocus writes them: a PNG gets tEXt ``parameters`` (the record) and ``fooocus_scheme`` (``fooocus`` or
``a1111``); a JPEG or WebP gets EXIF UserComment (0x9286) as a plain string without a character-code prefix,
MakerNote (0x927C) = the scheme and Software (0x0131) = ``Fooocus v<version>``, all three in IFD0 (Pillow's
top-level EXIF). With no scheme marker, a JSON object naming ``base_model`` and ``guidance_scale`` or
``performance`` is still Fooocus' (as Fooocus itself reads it); an A1111-scheme text without a marker is read by
the A1111 parser, which knows Fooocus by ``Version: Fooocus v...``.

JSON scheme keys read: ``prompt``, ``negative_prompt``, ``seed``, ``steps``, ``sampler``, ``scheduler``,
``guidance_scale`` (CFG), ``resolution`` (``"(896, 1152)"``), ``base_model`` + ``base_model_hash``,
``refiner_model`` + ``refiner_model_hash``, ``vae``, ``loras`` (``[[name, weight, hash], ...]``) or
``lora_combined_N`` (``"name : weight"``), ``version``. Every hash Fooocus writes (LoRAs included) is the first 10
hex digits of the file's whole SHA-256: AutoV2. The other keys go to ``extra``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cairn.signals.provenance.parsers import ParseContext
from cairn.signals.provenance.parsers._common import (
    as_float,
    as_int,
    as_text,
    by_key,
    cut,
    joined_where,
    json_object,
    model_ref,
    size_of,
)
from cairn.signals.provenance.parsers.a1111 import record_from_infotext
from cairn.signals.provenance.record import Carrier, GenerationRecord, ModelRef

SCHEMES = ("fooocus", "a1111")
_TAKEN = {
    "prompt",
    "negative_prompt",
    "seed",
    "steps",
    "sampler",
    "scheduler",
    "guidance_scale",
    "resolution",
    "base_model",
    "base_model_hash",
    "refiner_model",
    "refiner_model_hash",
    "vae",
    "loras",
    "version",
}


def _unnamed(value: Any) -> bool:
    return value in (None, "", "None") or (isinstance(value, str) and value.startswith("Default"))


def record_from_json(doc: dict[str, Any], text: str, where: str, ctx: ParseContext) -> GenerationRecord:
    """The record of a Fooocus-scheme JSON object."""
    raw, truncated = cut(text, ctx.limits)
    version = as_text(doc.get("version"))
    rec = GenerationRecord(
        tool="Fooocus",
        where=where,
        parser="fooocus",
        raw=raw,
        raw_truncated=truncated,
        tool_version=version.removeprefix("Fooocus").strip() or None if version else None,
        prompt=as_text(doc.get("prompt")),
        negative_prompt=as_text(doc.get("negative_prompt")),
        seed=as_int(doc.get("seed")),
        steps=as_int(doc.get("steps")),
        sampler=as_text(doc.get("sampler")),
        scheduler=as_text(doc.get("scheduler")),
        cfg=as_float(doc.get("guidance_scale")),
    )
    rec.width, rec.height = size_of(doc.get("resolution"))
    if not _unnamed(doc.get("base_model")) or doc.get("base_model_hash"):
        rec.model = model_ref(
            "checkpoint", doc.get("base_model"), doc.get("base_model_hash") or None, "autov2", ctx=ctx, where=where
        )
    if not _unnamed(doc.get("refiner_model")):
        ref = model_ref(
            "checkpoint",
            doc.get("refiner_model"),
            doc.get("refiner_model_hash") or None,
            "autov2",
            ctx=ctx,
            where=where,
        )
        if ref is not None:
            rec.other_models.append(ref)
    if not _unnamed(doc.get("vae")):
        rec.vae = model_ref("vae", doc.get("vae"))
    rec.loras = _loras(doc, ctx, where)
    rec.extra = {k: v for k, v in doc.items() if k not in _TAKEN and not k.startswith("lora_combined_")}
    return rec


def _loras(doc: dict[str, Any], ctx: ParseContext, where: str) -> list[ModelRef]:
    refs: list[ModelRef] = []
    loras = doc.get("loras")
    if isinstance(loras, list):
        for item in loras[:256]:
            if isinstance(item, list | tuple) and len(item) >= 2 and not _unnamed(item[0]):
                digest = item[2] if len(item) >= 3 else None
                ref = model_ref(
                    "lora", item[0], digest or None, "autov2", weight=as_float(item[1]), ctx=ctx, where=where
                )
                if ref is not None:
                    refs.append(ref)
        return refs
    for key in sorted(k for k in doc if k.startswith("lora_combined_")):
        value = doc[key]
        if not isinstance(value, str):
            continue
        parts = value.split(" : ")
        if len(parts) == 3:  # "enabled : name : weight"
            parts = parts[1:]
        if len(parts) == 2 and not _unnamed(parts[0]):
            ref = model_ref("lora", parts[0], weight=as_float(parts[1]))
            if ref is not None:
                refs.append(ref)
    return refs


def _looks_fooocus(doc: dict[str, Any]) -> bool:
    return "base_model" in doc and ("guidance_scale" in doc or "performance" in doc)


class FooocusParser:
    """Fooocus' ``parameters`` + ``fooocus_scheme`` (PNG) and UserComment + MakerNote + Software (JPEG/WebP)."""

    name = "fooocus"
    order = 20

    def parse(self, carriers: Sequence[Carrier], ctx: ParseContext) -> list[GenerationRecord]:
        records: list[GenerationRecord] = []
        png = by_key((c for c in carriers if c.container == "png"), "parameters", "fooocus_scheme")
        exif = by_key((c for c in carriers if c.container != "png"), "UserComment", "MakerNote", "Software")
        for body_key, scheme_key, group in (("parameters", "fooocus_scheme", png), ("UserComment", "MakerNote", exif)):
            body = group.get(body_key)
            if body is None or not body.text:
                continue
            scheme_carrier = group.get(scheme_key)
            scheme = (scheme_carrier.text or "").strip().lower() if scheme_carrier is not None else None
            software = group.get("Software")
            by_software = software is not None and (software.text or "").startswith("Fooocus")
            if scheme not in SCHEMES:
                scheme = None
            used = [body] + [c for c in (scheme_carrier if scheme else None, software if by_software else None) if c]
            where = joined_where(used)
            text = body.text
            if text.lstrip().startswith("{") and (scheme in (None, "fooocus")):
                if scheme is None and not by_software and '"base_model"' not in text:
                    continue
                doc = json_object(text, ctx, body.where, ctx.limits)
                if doc is None or (scheme is None and not by_software and not _looks_fooocus(doc)):
                    continue
                rec = record_from_json(doc, text, where, ctx)
            elif scheme == "a1111" or (by_software and not text.lstrip().startswith("{")):
                found = record_from_infotext(text, body, ctx, parser="fooocus", tool="Fooocus")
                if found is None:
                    ctx.warn(body.where, "Fooocus A1111-scheme text has no settings line")
                    continue
                rec = found
                rec.where = where
                if rec.tool_version is None and software is not None and by_software:
                    rec.tool_version = (software.text or "").removeprefix("Fooocus").strip() or None
            else:
                continue
            for c in used:
                ctx.claim(c)
            records.append(rec)
        return records


PARSER = FooocusParser()
