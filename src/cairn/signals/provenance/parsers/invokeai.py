"""InvokeAI generation records: ``invokeai_metadata`` (with ``invokeai_graph`` / ``invokeai_workflow`` as
fallbacks) from 3.x on, and the 2.x ``sd-metadata`` and ``Dream`` texts.

Shapes (learnt from InvokeAI's public source):

* ``invokeai_metadata``: the core-metadata JSON: ``positive_prompt``, ``negative_prompt``, ``seed``, ``steps``,
  ``cfg_scale``, ``scheduler``, ``width``, ``height``, ``generation_mode``, ``app_version``, ``model``, ``vae``,
  ``loras`` and more. A model reference from 4.0 on is ``{key, hash, name, base, type}``: ``key`` is a UUID the
  installation made up, ``hash`` is ``<algorithm>:<hex>``, ``blake3:`` by default (whole file; for a folder
  model BLAKE3 over its files' digests), ``sha256:``/``md5:``/... by configuration, or ``random:<hex>`` (made
  up: it names no content). 3.x references are ``{model_name, base_model[, model_type]}`` without a hash. LoRAs
  are ``[{model: ref, weight}]`` (4.0 on) or ``[{lora: ref, weight}]`` (older).
* ``invokeai_graph``: the executed graph ``{nodes: {id: {type, ...fields}}, edges: [...]}``; its
  ``core_metadata`` node holds the metadata fields. ``invokeai_workflow``: the node editor's workflow, nodes
  ``{data: {type, inputs: {name: {value}}}}``.
* ``sd-metadata`` (2.x): ``{model_id|model_weights, model_hash, app_id, app_version, image|images: {prompt:
  [{prompt, weight}] or text, seed, steps, cfg_scale, sampler, width, height, type, ...}}``; 2.x's
  ``model_hash`` is the SHA-256 of the model file (of its files, for a diffusers folder).
  ``Dream``: the command line ``"prompt" -s steps -S seed -W width -H height -C cfg -A sampler``.

Decisions: one record per image: ``invokeai_metadata`` when readable; else the graph's ``core_metadata`` node;
else the model, LoRA, prompt, noise and denoise nodes of the graph (or of the workflow), an empty field followed
back along its edge to the primitive node (string, integer, model) that feeds it. The ``key`` of each
model (installation-unique, so it can tie images to one installation) is kept in ``extra["model_keys"]``. A
``random:`` hash is kept with hash kind ``random`` and ``link="name-only"``. A hash of an algorithm
``HASH_KINDS`` does not know (sha1, sha512, ...) is not stored as a hash: it is kept in ``extra`` and warned.
InvokeAI's ``scheduler`` names the sampling algorithm (``euler``, ``dpmpp_2m_k`` = DPM++ 2M Karras), what
other tools call the sampler: it is the record's ``sampler`` (``scheduler`` stays empty).
2.x: one record per image of ``sd-metadata`` (a grid has several); ``Dream`` fills in when ``sd-metadata`` is
missing; the negative prompt is the bracketed part of the prompt (2.x's syntax), the prompt kept as written.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cairn.signals.provenance.limits import load_json
from cairn.signals.provenance.parsers import ParseContext
from cairn.signals.provenance.parsers._common import cut, joined_where
from cairn.signals.provenance.record import Carrier, GenerationRecord, ModelRef

TOOL = "InvokeAI"
#: Hash prefixes InvokeAI writes, and the hash kind each is.
HASH_PREFIXES = {"blake3": "blake3", "sha256": "sha256", "md5": "md5", "random": "random"}
#: Hex digits a hash of each kind has (random: a BLAKE3 hex of a UUID).
HASH_LENGTHS = {"blake3": 64, "sha256": 64, "md5": 32, "random": 64}
_HEX = re.compile(r"[0-9a-f]+")
#: Core-metadata fields copied to ``extra`` as read (scalars only).
EXTRA_FIELDS = (
    "generation_mode",
    "rand_device",
    "cfg_rescale_multiplier",
    "clip_skip",
    "strength",
    "init_image",
    "seamless_x",
    "seamless_y",
    "hrf_enabled",
    "hrf_method",
    "hrf_strength",
    "positive_style_prompt",
    "negative_style_prompt",
    "refiner_cfg_scale",
    "refiner_steps",
    "refiner_scheduler",
    "refiner_start",
    "guidance",
)
#: Other model references of core metadata: (field, list item key or None, role).
OTHER_MODELS = (
    ("refiner_model", None, "checkpoint"),
    ("controlnets", "control_model", "controlnet"),
    ("t2iAdapters", "t2i_adapter_model", "controlnet"),
    ("ipAdapters", "ip_adapter_model", "other"),
    ("qwen3_encoder", None, "other"),
    ("mistral_encoder", None, "other"),
    ("t5_encoder", None, "other"),
    ("clip_embed_model", None, "other"),
)
#: Dream switches (short and long) -> record field.
DREAM_SWITCHES = {
    "-s": "steps",
    "--steps": "steps",
    "-S": "seed",
    "--seed": "seed",
    "-W": "width",
    "--width": "width",
    "-H": "height",
    "--height": "height",
    "-C": "cfg",
    "--cfg_scale": "cfg",
    "-A": "sampler",
    "--sampler": "sampler",
    "-f": "strength",
    "--strength": "strength",
    "-m": "model",
    "--model": "model",
}
_BRACKETS = re.compile(r"\[([^\[\]]*)\]")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value and abs(value) != float("inf") else None


def _str(value: Any, limit: int = 100_000) -> str | None:
    return value[:limit] if isinstance(value, str) else None


@dataclass
class _Reader:
    """Turns InvokeAI's JSON pieces into record fields, warning at ``where``."""

    ctx: ParseContext
    where: str

    def warn(self, message: str) -> None:
        self.ctx.warn(self.where, message)

    def hash(self, value: Any, extra: dict[str, Any], label: str) -> tuple[str | None, str | None]:
        """``algorithm:hex`` -> (hex, hash kind); unknown algorithms and bad hex are kept in extra, warned."""
        if value is None:
            return None, None
        if not isinstance(value, str) or ":" not in value:
            self.warn(f"{label} hash {str(value)[:80]!r} is not '<algorithm>:<hex>'")
            extra.setdefault("unrecognised_hashes", {})[label] = str(value)[:200]
            return None, None
        prefix, _, digest = value.partition(":")
        kind = HASH_PREFIXES.get(prefix.strip().lower())
        digest = digest.strip().lower()
        if kind is None or _HEX.fullmatch(digest) is None or len(digest) != HASH_LENGTHS[kind]:
            self.warn(f"{label} hash {value[:80]!r}: algorithm or length not recognised, not kept as a hash")
            extra.setdefault("unrecognised_hashes", {})[label] = value[:200]
            return None, None
        return digest, kind

    def model(self, value: Any, role: str, extra: dict[str, Any], weight: Any = None) -> ModelRef | None:
        """A model reference in either shape; None (warned) when it is not one."""
        if value is None:
            return None
        if not isinstance(value, dict):
            self.warn(f"{role} reference is not an object: {str(value)[:80]!r}")
            return None
        name = _str(value.get("name"), 1000) or _str(value.get("model_name"), 1000)
        digest, kind = self.hash(value.get("hash"), extra, name or role)
        key = _str(value.get("key"), 200)
        if name is None and key is None and digest is None:
            self.warn(f"{role} reference without name, key or hash")
            return None
        if key is not None:
            item = {"role": role, "name": name, "key": key}
            base = value.get("base", value.get("base_model"))
            if isinstance(base, str):
                item["base"] = base[:100]
            extra.setdefault("model_keys", []).append(item)
        link = "hash" if digest is not None and kind != "random" else "name-only"
        return ModelRef(role, name, hash=digest, hash_kind=kind, weight=_float(weight), link=link)

    def loras(self, value: Any, extra: dict[str, Any]) -> list[ModelRef]:
        items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
        if value is not None and not isinstance(value, list | dict):
            self.warn("loras is not a list")
        refs: list[ModelRef] = []
        for item in items[:256]:
            if not isinstance(item, dict):
                self.warn(f"LoRA entry is not an object: {str(item)[:80]!r}")
                continue
            inner = item.get("model", item.get("lora"))
            ref = self.model(inner if isinstance(inner, dict) else None, "lora", extra, item.get("weight"))
            if ref is not None:
                refs.append(ref)
            elif inner is None:
                self.warn("LoRA entry without a model")
        return refs

    def core(self, meta: dict[str, Any], record: GenerationRecord) -> None:
        """Fill ``record`` from core metadata (the ``invokeai_metadata`` JSON or a core_metadata node)."""
        record.prompt = _str(meta.get("positive_prompt"))
        record.negative_prompt = _str(meta.get("negative_prompt"))
        record.seed = _int(meta.get("seed"))
        record.steps = _int(meta.get("steps"))
        record.cfg = _float(meta.get("cfg_scale"))
        record.sampler = _str(meta.get("scheduler"), 100)
        record.width = _int(meta.get("width"))
        record.height = _int(meta.get("height"))
        record.tool_version = _str(meta.get("app_version"), 100)
        for name, want in (("seed", _int), ("steps", _int), ("width", _int), ("height", _int)):
            if meta.get(name) is not None and want(meta.get(name)) is None:
                self.warn(f"{name} is not an integer: {str(meta.get(name))[:40]!r}")
        for name in ("positive_prompt", "negative_prompt"):
            if meta.get(name) is not None and not isinstance(meta.get(name), str):
                self.warn(f"{name} is not text")
        extra = record.extra
        record.model = self.model(meta.get("model"), "checkpoint", extra)
        record.vae = self.model(meta.get("vae"), "vae", extra)
        record.loras = self.loras(meta.get("loras", meta.get("lora")), extra)
        for field_name, item_key, role in OTHER_MODELS:
            value = meta.get(field_name)
            items = value if isinstance(value, list) else [value] if value is not None else []
            for item in items[:64]:
                ref = self.model(item.get(item_key) if item_key and isinstance(item, dict) else item, role, extra)
                if ref is not None:
                    record.other_models.append(ref)
        for name in EXTRA_FIELDS:
            value = meta.get(name)
            if isinstance(value, str | int | float | bool):
                extra[name] = value[:10_000] if isinstance(value, str) else value


def _load(carrier: Carrier, ctx: ParseContext) -> Any:
    text = carrier.text
    if text is None and carrier.data is not None:
        text = carrier.data.decode("utf-8", "replace")
    if text is None:
        return None
    try:
        return load_json(text, ctx.limits)
    except ValueError as exc:
        ctx.warn(carrier.where, f"InvokeAI {carrier.key} is not readable JSON: {exc}")
        return None


_Edge = tuple[str, str, str, str]  # source node id, source field, destination node id, destination field


def _graph_nodes(data: Any, ctx: ParseContext, where: str) -> tuple[list[dict[str, Any]], list[_Edge]]:
    """(nodes as ``{type, id, fields...}``, edges) of an executed graph or a node-editor workflow, at most
    ``max_graph_nodes`` nodes (and four times as many edges)."""
    limit = ctx.limits.max_graph_nodes
    nodes: list[dict[str, Any]] = []
    edges: list[_Edge] = []
    if not isinstance(data, dict):
        return nodes, edges
    raw_nodes = data.get("nodes")
    items = (
        list(raw_nodes.values()) if isinstance(raw_nodes, dict) else raw_nodes if isinstance(raw_nodes, list) else []
    )
    if len(items) > limit:
        ctx.warn(where, f"graph of {len(items):,} nodes: only the first {limit:,} read")
    for node in items[:limit]:
        if not isinstance(node, dict):
            continue
        inner = node.get("data")
        if isinstance(inner, dict) and isinstance(inner.get("inputs"), dict):  # workflow node
            fields = {
                str(k): v.get("value") for k, v in inner["inputs"].items() if isinstance(v, dict) and "value" in v
            }
            nodes.append({**fields, "type": inner.get("type"), "id": inner.get("id", node.get("id"))})
        elif isinstance(node.get("type"), str):
            nodes.append(node)
    raw_edges = data.get("edges")
    for edge in raw_edges[: limit * 4] if isinstance(raw_edges, list) else []:
        if not isinstance(edge, dict):
            continue
        source, destination = edge.get("source"), edge.get("destination")
        if isinstance(source, dict) and isinstance(destination, dict):
            ends = (source.get("node_id"), source.get("field"), destination.get("node_id"), destination.get("field"))
        else:  # workflow edge: source, sourceHandle, target, targetHandle ("collapsed" edges have no handles)
            ends = (edge.get("source"), edge.get("sourceHandle"), edge.get("target"), edge.get("targetHandle"))
        if all(isinstance(end, str) for end in ends):
            edges.append((str(ends[0]), str(ends[1]), str(ends[2]), str(ends[3])))
    return nodes, edges


def _field(node: dict[str, Any], name: str, by_id: dict[str, dict[str, Any]], into: dict[tuple[str, str], str]) -> Any:
    """A node's field; when it is empty and an edge feeds it, the ``value`` of the primitive node it comes from
    (string, integer, float and model primitives), followed at most 8 nodes back."""
    value = node.get(name)
    key = (str(node.get("id")), name)
    for _ in range(8):
        if value not in (None, "") or key not in into:
            break
        source = by_id.get(into[key])
        if source is None:
            break
        value = source.get("value", source.get("model"))
        key = (str(source.get("id")), "value")
    return value


def _from_graph(reader: _Reader, data: Any, record: GenerationRecord) -> bool:
    """Fill ``record`` from a graph or workflow: its core_metadata node, else its loader/prompt/noise nodes.
    False when nothing was found."""
    nodes, edges = _graph_nodes(data, reader.ctx, reader.where)
    core = next((n for n in nodes if n.get("type") in ("core_metadata", "metadata")), None)
    if core is not None:
        reader.core(core, record)
        record.extra["source"] = "core_metadata node"
        return True
    found = False
    side = {src: dst_field for src, _sf, _dst, dst_field in edges if dst_field.endswith("_conditioning")}
    by_id = {str(n.get("id")): n for n in nodes}
    into = {(dst, dst_field): src for src, _sf, dst, dst_field in edges}
    for node in nodes:
        kind = str(node.get("type"))
        if kind.endswith("model_loader") and record.model is None:
            record.model = reader.model(_field(node, "model", by_id, into), "checkpoint", record.extra)
        elif "lora" in kind:
            if isinstance(node.get("loras"), list):
                record.loras.extend(reader.loras(node["loras"], record.extra))
            elif isinstance(node.get("lora"), dict):
                ref = reader.model(node["lora"], "lora", record.extra, node.get("weight"))
                if ref is not None:
                    record.loras.append(ref)
        elif kind == "vae_loader":
            record.vae = reader.model(_field(node, "vae_model", by_id, into), "vae", record.extra)
        elif "compel" in kind or kind.endswith("text_encoder"):
            text = _str(_field(node, "prompt", by_id, into))
            feeds = side.get(str(node.get("id")))
            if feeds == "negative_conditioning":
                record.negative_prompt = record.negative_prompt or text
            elif feeds == "positive_conditioning" or record.prompt is None:
                record.prompt = text
        elif kind == "noise":
            record.seed = _int(_field(node, "seed", by_id, into))
            record.width = _int(_field(node, "width", by_id, into))
            record.height = _int(_field(node, "height", by_id, into))
        elif "denoise" in kind:
            record.steps = _int(_field(node, "steps", by_id, into))
            record.cfg = _float(_field(node, "cfg_scale", by_id, into))
            record.sampler = _str(_field(node, "scheduler", by_id, into), 100)
        else:
            continue
        found = True
    if found:
        record.extra["source"] = "graph nodes"
    return found


def _subprompts(value: Any) -> str | None:
    """2.x's ``prompt``: text, or ``[{prompt, weight}]`` (one: its text; several: ``text:weight`` joined by
    commas, as InvokeAI 2.x itself re-joins them)."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        return None
    parts = [p for p in value[:256] if isinstance(p, dict) and isinstance(p.get("prompt"), str)]
    if len(parts) == 1 and parts[0].get("weight", 1) in (1, 1.0):
        text: str = parts[0]["prompt"]
        return text
    return ",".join(f"{p['prompt']}:{p.get('weight', 1)}" for p in parts) or None


def _negative(prompt: str | None) -> str | None:
    """2.x's negative prompt: the bracketed parts of the prompt, joined by ", "."""
    if prompt is None:
        return None
    parts = [p.strip() for p in _BRACKETS.findall(prompt) if p.strip()]
    return ", ".join(parts) if parts else None


def _dream(text: str, record: GenerationRecord, reader: _Reader) -> None:
    """Fill ``record`` from a 2.x ``Dream`` command line."""
    try:
        tokens = shlex.split(text[:100_000])
    except ValueError as exc:
        reader.warn(f"Dream command line not readable: {exc}")
        return
    if not tokens:
        return
    if not tokens[0].startswith("-"):
        record.prompt = record.prompt or tokens[0]
        tokens = tokens[1:]
    index = 0
    while index < len(tokens):
        name = DREAM_SWITCHES.get(tokens[index])
        value = tokens[index + 1] if index + 1 < len(tokens) else None
        index += 1
        if name is None or value is None:
            continue
        index += 1
        try:
            if name in ("steps", "seed", "width", "height") and getattr(record, name) is None:
                setattr(record, name, int(value))
            elif name == "cfg" and record.cfg is None:
                record.cfg = float(value)
            elif name == "sampler" and record.sampler is None:
                record.sampler = value[:100]
            elif name == "strength":
                record.extra.setdefault("strength", float(value))
            elif name == "model" and record.model is None:
                record.model = ModelRef("checkpoint", value[:1000], link="name-only")
        except ValueError:
            reader.warn(f"Dream switch {tokens[index - 2]} has a bad value {value[:40]!r}")


def _legacy_image(image: dict[str, Any], top: dict[str, Any], reader: _Reader, record: GenerationRecord) -> None:
    record.prompt = _subprompts(image.get("prompt"))
    record.negative_prompt = _negative(record.prompt)
    record.seed = _int(image.get("seed"))
    record.steps = _int(image.get("steps"))
    record.cfg = _float(image.get("cfg_scale"))
    record.sampler = _str(image.get("sampler"), 100)
    record.width, record.height = _int(image.get("width")), _int(image.get("height"))
    for field_name in ("type", "strength", "seamless", "hires_fix", "threshold", "perlin"):
        value = image.get(field_name)
        if isinstance(value, str | int | float | bool):
            record.extra["generation_mode" if field_name == "type" else field_name] = value
    record.tool_version = _str(top.get("app_version"), 100)
    if isinstance(top.get("app_id"), str):
        record.extra["app_id"] = top["app_id"][:200]
    name = _str(top.get("model_weights"), 1000) or _str(top.get("model_id"), 1000)
    digest = top.get("model_hash")
    if isinstance(digest, str) and re.fullmatch(r"[0-9a-fA-F]{64}", digest):
        record.model = ModelRef("checkpoint", name, hash=digest.lower(), hash_kind="sha256")
    else:
        if digest is not None:
            reader.warn(f"sd-metadata model_hash {str(digest)[:80]!r} is not a SHA-256")
            record.extra.setdefault("unrecognised_hashes", {})["model"] = str(digest)[:200]
        record.model = ModelRef("checkpoint", name, link="name-only") if name else None


def _record(where: str, raw: str, ctx: ParseContext) -> GenerationRecord:
    text, truncated = cut(raw, ctx.limits)
    return GenerationRecord(tool=TOOL, where=where, parser=PARSER.name, raw=text, raw_truncated=truncated)


@dataclass(frozen=True)
class InvokeAIParser:
    name: str = "invokeai"
    order: int = 40

    def parse(self, carriers: Sequence[Carrier], ctx: ParseContext) -> list[GenerationRecord]:
        by_key: dict[str, list[Carrier]] = {}
        for carrier in carriers:
            if carrier.key in ("invokeai_metadata", "invokeai_graph", "invokeai_workflow", "sd-metadata", "Dream"):
                by_key.setdefault(carrier.key, []).append(carrier)
        if not by_key:
            return []
        records = self._current(by_key, ctx)
        records.extend(self._legacy(by_key, ctx))
        return records

    def _current(self, by_key: dict[str, list[Carrier]], ctx: ParseContext) -> list[GenerationRecord]:
        metadata = by_key.get("invokeai_metadata", [])
        graphs = by_key.get("invokeai_graph", [])
        workflows = by_key.get("invokeai_workflow", [])
        if not (metadata or graphs or workflows):
            return []
        used = metadata[:1] + graphs[:1] + workflows[:1]
        where = joined_where(used)
        reader = _Reader(ctx, where)
        record = _record(where, used[0].text or "", ctx)
        done = False
        if metadata:
            meta = _load(metadata[0], ctx)
            if isinstance(meta, dict):
                record.raw, record.raw_truncated = cut(metadata[0].text or "", ctx.limits)
                reader.core(meta, record)
                record.extra["source"] = "invokeai_metadata"
                done = True
            elif meta is not None:
                ctx.warn(metadata[0].where, "invokeai_metadata is not a JSON object")
        for fallback in graphs[:1] + workflows[:1]:
            if done:
                break
            data = _load(fallback, ctx)
            if data is not None and _from_graph(reader, data, record):
                record.raw, record.raw_truncated = cut(fallback.text or "", ctx.limits)
                record.extra["source"] = f"{fallback.key} ({record.extra['source']})"
                done = True
        if not done:
            return []
        for carrier in used:
            ctx.claim(carrier)
        return [record]

    def _legacy(self, by_key: dict[str, list[Carrier]], ctx: ParseContext) -> list[GenerationRecord]:
        sd = by_key.get("sd-metadata", [])
        dream = by_key.get("Dream", [])
        records: list[GenerationRecord] = []
        dream_text = dream[0].text if dream and dream[0].text is not None else None
        if sd:
            carrier = sd[0]
            where = joined_where([carrier, *dream[:1]])
            reader = _Reader(ctx, where)
            data = _load(carrier, ctx)
            top: dict[str, Any] = data if isinstance(data, dict) else {}
            images: list[Any] = []
            if isinstance(data, dict):
                if isinstance(data.get("images"), list):
                    images = data["images"][: ctx.limits.max_records]
                elif isinstance(data.get("image"), dict):
                    images = [data["image"]]
                if not images:
                    ctx.warn(carrier.where, "sd-metadata without an image object")
            elif data is not None:
                ctx.warn(carrier.where, "sd-metadata is not a JSON object")
            for image in images:
                if not isinstance(image, dict):
                    reader.warn("sd-metadata image entry is not an object")
                    continue
                record = _record(where, carrier.text or "", ctx)
                _legacy_image(image, top, reader, record)
                if dream_text is not None:
                    record.extra["dream"] = dream_text[:10_000]
                records.append(record)
            if records:
                ctx.claim(carrier)
                if dream:
                    ctx.claim(dream[0])
                return records
        if dream_text is not None and dream_text.strip():
            reader = _Reader(ctx, dream[0].where)
            record = _record(dream[0].where, dream_text, ctx)
            _dream(dream_text, record, reader)
            record.negative_prompt = _negative(record.prompt)
            record.extra["source"] = "Dream"
            if record.prompt is not None or record.seed is not None:
                ctx.claim(dream[0])
                records.append(record)
        return records


PARSER = InvokeAIParser()
