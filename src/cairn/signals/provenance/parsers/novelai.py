"""NovelAI: PNG text chunks, or the same keys as one JSON object (its stealth pixel copy).

NovelAI writes tEXt ``Title`` ("NovelAI generated image" or "AI generated image"), ``Description`` (the prompt),
``Software`` = ``NovelAI``, ``Source`` = ``"<model> <hash>"`` (``Stable Diffusion XL C1E1DE52``: the hexadecimal
code after the model name is stored with hash kind ``novelai``, lower-case), ``Generation time`` and ``Comment``:
JSON with ``prompt``, ``uc`` (negative prompt), ``steps``, ``seed``, ``scale`` (CFG), ``sampler``,
``noise_schedule``, ``width``, ``height`` and more (kept in ``extra``).

Accepted carriers: the PNG chunks above, or the same keys from the stealth reader (container ``pixels``, one
carrier per JSON key; the record's ``where`` is then the pixel copy's), when ``Software`` is ``NovelAI`` or
``Comment`` is a JSON object with NovelAI's keys (``uc`` and ``scale``); and any carrier (whatever its key) whose
text is one JSON object holding ``Software``/``Comment``/``Description`` as NovelAI's pixel copy does,
``Comment`` being itself JSON text (or an object).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from cairn.signals.provenance.limits import TooDeep, load_json
from cairn.signals.provenance.parsers import ParseContext
from cairn.signals.provenance.parsers._common import (
    as_float,
    as_int,
    as_text,
    by_key,
    cut,
    joined_where,
    json_object,
)
from cairn.signals.provenance.record import Carrier, GenerationRecord, ModelRef

PNG_KEYS = ("Title", "Description", "Software", "Source", "Generation time", "Comment")
#: Where those keys come from: PNG text chunks, or the stealth reader's flattened JSON (container "pixels").
CONTAINERS = ("png", "pixels")
_SOURCE = re.compile(r"(.*\S)\s+([0-9A-Fa-f]{4,64})")
_TAKEN = {"prompt", "uc", "steps", "seed", "scale", "sampler", "noise_schedule", "width", "height"}


def _comment(value: Any, ctx: ParseContext, where: str) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or not value.lstrip().startswith("{"):
        return None
    try:
        doc = load_json(value, ctx.limits)
    except TooDeep as exc:
        ctx.warn(where, f"Comment not read: {exc}")
        return None
    except ValueError as exc:
        ctx.warn(where, f"Comment is not valid JSON: {str(exc)[:200]}")
        return None
    return doc if isinstance(doc, dict) else None


def _is_novelai_comment(doc: dict[str, Any] | None) -> bool:
    return doc is not None and "uc" in doc and "scale" in doc


def source_model(source: str | None) -> ModelRef | None:
    """The model of a ``Source`` text: ``"Stable Diffusion XL C1E1DE52"`` -> name and hash (kind novelai)."""
    if not source:
        return None
    m = _SOURCE.fullmatch(source.strip())
    if m is None:
        return ModelRef("checkpoint", source.strip(), link="name-only")
    return ModelRef("checkpoint", m.group(1), m.group(2).lower(), "novelai")


def record_from_fields(fields: dict[str, Any], raw_text: str, where: str, ctx: ParseContext) -> GenerationRecord:
    comment = _comment(fields.get("Comment"), ctx, where) or {}
    raw, truncated = cut(raw_text, ctx.limits)
    negative = comment.get("uc")
    v4_negative = comment.get("v4_negative_prompt")
    if negative is None and isinstance(v4_negative, dict):
        caption = v4_negative.get("caption")
        negative = caption.get("base_caption") if isinstance(caption, dict) else None
    rec = GenerationRecord(
        tool="NovelAI",
        where=where,
        parser="novelai",
        raw=raw,
        raw_truncated=truncated,
        prompt=as_text(fields.get("Description")) or as_text(comment.get("prompt")),
        negative_prompt=as_text(negative),
        seed=as_int(comment.get("seed")),
        steps=as_int(comment.get("steps")),
        sampler=as_text(comment.get("sampler")),
        scheduler=as_text(comment.get("noise_schedule")),
        cfg=as_float(comment.get("scale")),
        width=as_int(comment.get("width")),
        height=as_int(comment.get("height")),
        model=source_model(as_text(fields.get("Source"))),
    )
    rec.extra = {k: v for k, v in comment.items() if k not in _TAKEN}
    for key in ("Title", "Software", "Generation time"):
        if fields.get(key) is not None:
            rec.extra[key] = fields[key]
    return rec


class NovelAIParser:
    """NovelAI's PNG text chunks and its JSON pixel copy."""

    name = "novelai"
    order = 10

    def parse(self, carriers: Sequence[Carrier], ctx: ParseContext) -> list[GenerationRecord]:
        records: list[GenerationRecord] = []
        for container in CONTAINERS:
            group = by_key((c for c in carriers if c.container == container), *PNG_KEYS)
            software = group.get("Software")
            comment = group.get("Comment")
            is_novelai = software is not None and (software.text or "").strip().startswith("NovelAI")
            if not is_novelai and comment is not None and (comment.text or "").lstrip().startswith("{"):
                is_novelai = _is_novelai_comment(_comment(comment.text, ctx, comment.where))
            if not is_novelai:
                continue
            used = [group[k] for k in PNG_KEYS if k in group]
            fields = {c.key: c.text for c in used}
            raw = "\n".join(f"{c.key}: {c.text}" for c in used)
            where = used[0].where.split("; JSON key")[0] if container == "pixels" else joined_where(used)
            records.append(record_from_fields(fields, raw, where, ctx))
            for c in used:
                ctx.claim(c)
        for carrier in carriers:
            text = carrier.text
            if ctx.is_claimed(carrier) or not text or not text.lstrip().startswith("{"):
                continue
            if '"Comment"' not in text and '"Software"' not in text:
                continue
            doc = json_object(text, ctx, carrier.where, ctx.limits)
            if doc is None:
                continue
            software_value = as_text(doc.get("Software")) or ""
            if not software_value.startswith("NovelAI") and not _is_novelai_comment(
                _comment(doc.get("Comment"), ctx, carrier.where)
            ):
                continue
            ctx.claim(carrier)
            records.append(record_from_fields(doc, text, carrier.where, ctx))
        return records


PARSER = NovelAIParser()
