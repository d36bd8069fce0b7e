"""AUTOMATIC1111 and Forge ``parameters`` ("infotext"), the layout most tools copy.

Layout, as A1111 writes it: the prompt (it may span lines), then optionally a line starting ``Negative prompt:``
(which may span lines too), then one last line of ``Key: value`` pairs joined by ``", "``. The last line counts
as settings only when it holds at least three pairs; otherwise it is part of the prompt. A value holding ``,``,
``:`` or a newline is written JSON-quoted (``Lora hashes: "name: 0123456789ab, other: ..."``).

Read from: PNG ``parameters`` text chunks (tEXt/iTXt), EXIF UserComment (A1111 writes ``UNICODE\\0`` + UTF-16BE
into the Exif sub-IFD; others ASCII or no prefix; IFD0 too), JPEG/GIF comments and ImageDescription. A carrier
other than ``parameters`` must also name Steps, Sampler or Seed, so an ordinary comment is never taken for one.

Hash kinds, as A1111 computes them: ``Model hash`` and ``VAE hash`` are AutoV2 (10 hex digits; 8 digits: the
old AutoV1); ``Lora hashes`` are AutoV3 (12 hex digits, often the LoRA file's own ``sshs_model_hash`` claim);
10 digits there are Fooocus' AutoV2. ``TI hashes`` are the first 12 hex digits of the embedding file's whole
SHA-256 (hash kind ``sha256_12``); the text also stays in ``extra["TI hashes"]``. ``Hashes: {json}``
(``model``, ``vae``, ``lora:NAME``, ``embed:NAME``) adds what the pairs lack; ``Civitai resources: [json]``
names Civitai model versions (ids, not hashes) and is kept in ``extra``. LoRA weights come from
``<lora:NAME:WEIGHT>`` in the prompt (or ``Lora weights: "NAME: W, ..."``, as Fooocus writes). A ``Version``
such as ``f2.0.1v1.10.1-...`` is Forge's; ``Fooocus v2.5.5`` is Fooocus' (its A1111 scheme); anything else is A1111.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cairn.signals.provenance.limits import TooDeep, load_json
from cairn.signals.provenance.parsers import ParseContext
from cairn.signals.provenance.parsers._common import MAX_REFS, as_float, as_int, clean_hash, cut, model_ref, size_of
from cairn.signals.provenance.record import Carrier, GenerationRecord, ModelRef

#: Carrier keys that may hold infotext.
KEYS = ("parameters", "UserComment", "comment", "Comment", "ImageDescription", "XPComment")
#: A carrier other than ``parameters`` counts only when its settings name one of these.
TELLING_KEYS = ("Steps", "Sampler", "Seed")

_KEY = re.compile(r"\w[\w \-/]*")
_PROMPT_NETWORK = re.compile(r"<(lora|lyco):([^:<>]{1,256}):([^:<>]{0,32})(?::[^<>]{0,32})?>")
_FORGE_VERSION = re.compile(r"f\d")
#: VAE names that name no VAE file (the checkpoint's own, or the tool's choice).
NO_VAE = ("Default", "None", "Automatic")
#: LoRA hash kinds by length: A1111's AutoV3 (12), Fooocus' AutoV2 (10), a whole SHA-256 (64).
LORA_KINDS = {12: "autov3", 10: "autov2", 64: "sha256"}


@dataclass
class Infotext:
    """An infotext split into its parts: prompt, negative prompt and the settings pairs (values unquoted)."""

    prompt: str
    negative_prompt: str | None
    params: dict[str, str] = field(default_factory=dict)
    has_params: bool = False


def split_params(line: str) -> list[tuple[str, str]]:
    """The ``Key: value`` pairs of a settings line, JSON-quoted values unquoted; text that is no pair is skipped."""
    pairs: list[tuple[str, str]] = []
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] == " ":
            i += 1
        colon = line.find(":", i)
        comma = line.find(",", i)
        if colon < 0:
            break
        if 0 <= comma < colon:  # a piece without a key: skip it
            i = comma + 1
            continue
        key = line[i:colon].strip()
        j = colon + 1
        while j < n and line[j] == " ":
            j += 1
        if j < n and line[j] == '"':
            end = _string_end(line, j)
            if end is not None:
                raw = line[j : end + 1]
                try:
                    value = json.loads(raw)
                except ValueError:
                    value = raw
                if not isinstance(value, str):
                    value = raw
                after = end + 1
                next_comma = line.find(",", after)
                i = n if next_comma < 0 else next_comma + 1
                if _KEY.fullmatch(key):
                    pairs.append((key, value))
                continue
        if j < n and line[j] in "{[":  # a dict or list A1111 wrote as bare JSON (Hashes, Civitai resources)
            end = _json_end(line, j)
            if end is not None:
                next_comma = line.find(",", end + 1)
                if _KEY.fullmatch(key):
                    pairs.append((key, line[j : end + 1]))
                i = n if next_comma < 0 else next_comma + 1
                continue
        k = line.find(",", j)
        k = n if k < 0 else k
        if _KEY.fullmatch(key):
            pairs.append((key, line[j:k].strip()))
        i = k + 1
    return pairs


def _string_end(text: str, start: int) -> int | None:
    """Index of the quote closing the JSON string that opens at ``start``, or None."""
    i = start + 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i
        i += 1
    return None


def _json_end(text: str, start: int) -> int | None:
    """Index of the bracket closing the JSON object or list that opens at ``start``, or None."""
    depth = 0
    i = start
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            end = _string_end(text, i)
            if end is None:
                return None
            i = end
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def split_infotext(text: str) -> Infotext:
    """Prompt, negative prompt and settings of an infotext, by A1111's layout rules."""
    *lines, last = text.strip().split("\n")
    pairs = split_params(last)
    if len(pairs) < 3:
        lines.append(last)
        pairs = []
    prompt: list[str] = []
    negative: list[str] = []
    in_negative = False
    for line in lines:
        stripped = line.strip()
        if not in_negative and stripped.startswith("Negative prompt:"):
            in_negative = True
            stripped = stripped[len("Negative prompt:") :].strip()
        (negative if in_negative else prompt).append(stripped)
    params: dict[str, str] = {}
    for key, value in pairs:
        params.setdefault(key, value)
    return Infotext("\n".join(prompt), "\n".join(negative) if in_negative else None, params, bool(pairs))


def tool_of(params: dict[str, str]) -> tuple[str, str | None]:
    """(tool, version) from the settings: Forge's ``f2...`` versions, Fooocus, an ``App`` key, else A1111."""
    version = params.get("Version")
    if version is not None and _FORGE_VERSION.match(version):
        return "Forge", version
    if version is not None and version.startswith("Fooocus"):
        return "Fooocus", version.removeprefix("Fooocus").strip() or None
    app = params.get("App")
    if app:
        return app[:64], version
    return "A1111", version


def _pairs_in(value: str) -> list[tuple[str, str]]:
    """``"name: hash, other: hash"`` as pairs (names may hold spaces; split on the last ``": "`` of each)."""
    out: list[tuple[str, str]] = []
    for part in value.split(","):
        name, sep, rest = part.rpartition(":")
        if sep and name.strip():
            out.append((name.strip(), rest.strip()))
    return out


def _json_param(params: dict[str, str], key: str, ctx: ParseContext, where: str) -> Any:
    raw = params.get(key)
    if raw is None:
        return None
    try:
        return load_json(raw, ctx.limits)
    except TooDeep as exc:
        ctx.warn(where, f"{key} not read: {exc}")
    except ValueError as exc:
        ctx.warn(where, f"{key} is not valid JSON: {str(exc)[:200]}")
    return None


def _lora(name: str, value: str, weight: float | None, ctx: ParseContext, where: str) -> ModelRef | None:
    digest = clean_hash(value)
    kind = LORA_KINDS.get(len(digest)) if digest is not None else None
    if kind is None:
        if value:
            ctx.warn(where, f"LoRA {name!r} hash {value[:80]!r} is not a known hash kind; kept the name only")
        return model_ref("lora", name, weight=weight)
    return model_ref("lora", name, digest, kind, weight=weight, ctx=ctx, where=where)


def record_from_infotext(
    text: str, carrier: Carrier, ctx: ParseContext, parser: str = "a1111", tool: str | None = None
) -> GenerationRecord | None:
    """The record of an A1111-style infotext, or None when the text has no settings line."""
    info = split_infotext(text)
    if not info.has_params:
        return None
    where = carrier.where
    params = info.params
    found_tool, version = tool_of(params)
    raw, truncated = cut(carrier.text or text, ctx.limits)
    rec = GenerationRecord(
        tool=tool or found_tool,
        where=where,
        parser=parser,
        raw=raw,
        raw_truncated=truncated,
        tool_version=version,
        prompt=info.prompt or None,
        negative_prompt=info.negative_prompt,
        seed=as_int(params.get("Seed")),
        steps=as_int(params.get("Steps")),
        sampler=params.get("Sampler") or None,
        scheduler=params.get("Schedule type") or params.get("Scheduler") or None,
        cfg=as_float(params.get("CFG scale")),
    )
    rec.width, rec.height = size_of(params.get("Size"))
    hashes = _json_param(params, "Hashes", ctx, where)
    if hashes is not None and not isinstance(hashes, dict):
        ctx.warn(where, "Hashes is not a JSON object; not read")
        hashes = None
    hashes = hashes or {}
    model_hash = params.get("Model hash") or (hashes.get("model") if isinstance(hashes.get("model"), str) else None)
    if params.get("Model") or model_hash:
        kind = {8: "autov1", 10: "autov2"}.get(len(clean_hash(model_hash) or ""))
        if model_hash and kind is None:
            ctx.warn(where, f"Model hash {model_hash[:80]!r} is neither AutoV2 (10 hex) nor AutoV1 (8 hex)")
        rec.model = model_ref(
            "checkpoint", params.get("Model"), model_hash if kind else None, kind, ctx=ctx, where=where
        )
    vae_hash = params.get("VAE hash") or (hashes.get("vae") if isinstance(hashes.get("vae"), str) else None)
    vae_name = params.get("VAE")
    if vae_name and vae_name.startswith(NO_VAE):
        vae_name = None  # "Default (model)", "None", "Automatic": no VAE file of its own (kept in extra)
    if vae_name or vae_hash:
        kind = {8: "autov1", 10: "autov2"}.get(len(clean_hash(vae_hash) or ""))
        rec.vae = model_ref("vae", vae_name, vae_hash if kind else None, kind, ctx=ctx, where=where)
    rec.loras = _loras(info, params, hashes, ctx, where)
    for name, value in _pairs_in(params.get("TI hashes", ""))[:MAX_REFS]:
        ref = model_ref("embedding", name, value, "sha256_12", ctx=ctx, where=where)
        if ref is not None:
            rec.other_models.append(ref)
    rec.extra = _extra(params, hashes, ctx, where)
    if params.get("VAE") and vae_name is None:
        rec.extra["VAE"] = params["VAE"]
    for key, ref in (("Model hash", rec.model), ("VAE hash", rec.vae)):
        if key in params and (ref is None or ref.hash is None):
            rec.extra[key] = params[key]  # a hash of no known kind: kept as read, never as a model reference
    return rec


def _loras(
    info: Infotext, params: dict[str, str], hashes: dict[str, Any], ctx: ParseContext, where: str
) -> list[ModelRef]:
    weights: dict[str, float | None] = {}
    for _kind, name, weight in _PROMPT_NETWORK.findall(info.prompt):
        weights.setdefault(name, as_float(weight))
    for name, weight in _pairs_in(params.get("Lora weights", "")):
        weights.setdefault(name, as_float(weight))
    found: dict[str, str] = {}
    for name, value in _pairs_in(params.get("Lora hashes", "")):
        found.setdefault(name, value)
    for key, value in hashes.items():
        if isinstance(key, str) and key.startswith("lora:") and isinstance(value, str):
            found.setdefault(key[len("lora:") :], value)
    if len(found) + len(weights) > MAX_REFS:
        ctx.warn(where, f"{len(found) + len(weights):,} LoRA references; the first {MAX_REFS} were read")
    refs: list[ModelRef] = []
    for name, value in list(found.items())[:MAX_REFS]:
        ref = _lora(name, value, weights.get(name), ctx, where)
        if ref is not None:
            refs.append(ref)
    for name, weight in list(weights.items())[:MAX_REFS]:
        if name not in found and len(refs) < MAX_REFS:
            ref = model_ref("lora", name, weight=weight)
            if ref is not None:
                refs.append(ref)
    return refs


def _extra(params: dict[str, str], hashes: dict[str, Any], ctx: ParseContext, where: str) -> dict[str, Any]:
    taken = {
        "Seed",
        "Steps",
        "Sampler",
        "Schedule type",
        "Scheduler",
        "CFG scale",
        "Size",
        "Model",
        "Model hash",
        "VAE",
        "VAE hash",
        "Version",
        "Hashes",
        "Civitai resources",
    }
    extra: dict[str, Any] = {k: v for k, v in params.items() if k not in taken}
    if hashes:
        extra["Hashes"] = hashes
    resources = _json_param(params, "Civitai resources", ctx, where)
    if resources is not None:
        extra["Civitai resources"] = resources
    return extra


class A1111Parser:
    """AUTOMATIC1111 / Forge infotext (and any tool writing the same layout)."""

    name = "a1111"
    order = 100

    def parse(self, carriers: Sequence[Carrier], ctx: ParseContext) -> list[GenerationRecord]:
        records: list[GenerationRecord] = []
        for carrier in carriers:
            text = carrier.text
            if carrier.key not in KEYS or not text or text.lstrip().startswith(("{", "[")):
                continue
            if carrier.key != "parameters" and not any(f"{k}: " in text for k in TELLING_KEYS):
                continue
            rec = record_from_infotext(text, carrier, ctx)
            if rec is None:
                if carrier.key == "parameters":
                    ctx.warn(carrier.where, "parameters text has no settings line of three or more pairs")
                continue
            if carrier.key != "parameters" and not any(k in rec.extra or _set(rec, k) for k in TELLING_KEYS):
                continue
            ctx.claim(carrier)
            records.append(rec)
        return records


def _set(rec: GenerationRecord, key: str) -> bool:
    return {"Steps": rec.steps, "Sampler": rec.sampler, "Seed": rec.seed}[key] is not None


PARSER = A1111Parser()
