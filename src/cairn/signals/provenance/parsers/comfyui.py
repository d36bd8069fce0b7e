"""ComfyUI generation records: the API graph (``prompt``) walked back from each sampler node.

Where ComfyUI writes its graphs (the carriers module finds them; this parser reads carriers with these keys):
PNG tEXt ``prompt`` (the API graph ``{id: {"class_type", "inputs", "_meta"}}``, an input that is a link is
``[node_id, output_slot]``) and ``workflow`` (the UI graph: ``nodes`` with ``widgets_values``, ``links``), one
chunk per further key; animated PNGs carry the same as private ``comf`` chunks (``key\\0json``); WebP and
other containers carry them as EXIF IFD0 strings ``prompt:{json}``, ``workflow:{json}``.

Decisions (documented, tested):

* **The API graph is authoritative**: it is what ComfyUI executed (muted and bypassed nodes are already gone
  from it, primitive widgets are inlined). The UI graph is read only (a) when a file has no readable API graph
  (for example an exported "workflow image"): it is turned into an API graph (widget values named by a table of
  the core nodes, links resolved through Reroute, bypassed and primitive nodes) and walked the same way, the
  record saying ``extra["graph"] == "workflow"``; and (b) for what the API graph lacks: the frontend version
  and the download list of models a workflow declares (``models``: name, url, declared hash), stored in
  ``extra["workflow_models"]`` and never as a model's hash (it says what the author meant to download, not
  which file ran).
* **One record per sampler node** (KSampler, KSamplerAdvanced, SamplerCustom, SamplerCustomAdvanced and any
  node with ``model`` and ``positive`` links and a seed), in node-id order: each sampler is one generation
  step with its own model, LoRAs, prompts and seed. A second pass (hires fix, refiner) is its own record, and
  ``extra["latent_from_sampler"]`` names the sampler whose output it refines.
* Core ComfyUI names models by file name only: every model reference is ``link="name-only"`` with no hash.
  Custom nodes that write model hashes (Image Saver, SaveImageWithMetaData, Civitai's) write them as an
  A1111-style ``parameters`` text, which the A1111 parser reads; in the graph their loaders are read by name.
* A model name is kept as the graph wrote it (sub-folder and all, e.g. ``SDXL/base.safetensors``).
* Prompts: the texts of every text encoder that reaches the sampler's ``positive`` (or ``negative``) input
  through conditioning nodes, distinct texts joined by a line break in walk order; a text fed by a link is
  followed through primitive and string nodes.

* A graph without a sampler (an upscale-only workflow, or one whose sampler sits inside a group node or
  subgraph the UI graph does not spell out) still gives one record, tool ComfyUI without settings, and a warning.

Hostile graphs: at most ``max_graph_nodes`` nodes are read; all walks of one graph share one budget of
``max_walk_steps`` steps, a node visit costing one step plus one per 8 of its inputs (so a huge node reached by
many paths stays cheap); when the budget ends, the record being filled keeps what was read and a warning says it
is partial. A node met again among its own ancestors is a cycle (warned, not followed); a branch shared by two
inputs is read once; conditioning and text paths are cut at ``MAX_PATH`` nodes (no deep recursion); links to
missing nodes and values of the wrong type are warnings: nothing here raises on input or loops. Checked on
ComfyUI's own example images (107 files with graphs): every one gives its records without a warning, and the
UI-graph fallback agrees with the API graph on 104 of them (the rest use group nodes, which it warns about).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cairn.signals.provenance.limits import load_json
from cairn.signals.provenance.parsers import ParseContext
from cairn.signals.provenance.parsers._common import cut, joined_where
from cairn.signals.provenance.record import Carrier, GenerationRecord, ModelRef

TOOL = "ComfyUI"

#: Known sampler node classes (others are recognised by their inputs, see ``_is_sampler``).
SAMPLERS = frozenset(
    {
        "KSampler",
        "KSamplerAdvanced",
        "SamplerCustom",
        "SamplerCustomAdvanced",
        "KSampler (Efficient)",
        "KSampler Adv. (Efficient)",
        "KSamplerSDXL (Eff.)",
    }
)
#: Inputs that name a checkpoint or diffusion-model file, in order of preference.
MODEL_NAME_INPUTS = ("ckpt_name", "unet_name", "model_name", "model_path")
#: Inputs holding prompt text on a text-encoder node.
TEXT_INPUTS = ("text", "text_g", "text_l", "clip_l", "clip_g", "t5xxl", "prompt")
#: Inputs a string or primitive node keeps its value in.
STRING_VALUE_INPUTS = ("value", "text", "string", "prompt", "STRING")
#: The values of ComfyUI's "control after generate" widget (a UI-only widget after seed inputs).
CONTROL_VALUES = frozenset({"fixed", "increment", "decrement", "randomize"})
_CONTROL = "\0control"  # marker in WIDGETS: the control widget may follow here

#: Widget names, in ``widgets_values`` order, of core nodes (for reading a UI graph without an API graph); checked
#: against the API graphs ComfyUI's own example images carry beside their UI graphs.
WIDGETS: dict[str, tuple[str, ...]] = {
    "KSampler": ("seed", _CONTROL, "steps", "cfg", "sampler_name", "scheduler", "denoise"),
    "KSamplerAdvanced": (
        "add_noise",
        "noise_seed",
        _CONTROL,
        "steps",
        "cfg",
        "sampler_name",
        "scheduler",
        "start_at_step",
        "end_at_step",
        "return_with_leftover_noise",
    ),
    "SamplerCustom": ("add_noise", "noise_seed", _CONTROL, "cfg"),
    "RandomNoise": ("noise_seed", _CONTROL),
    "KSamplerSelect": ("sampler_name",),
    "BasicScheduler": ("scheduler", "steps", "denoise"),
    "CFGGuider": ("cfg",),
    "CheckpointLoaderSimple": ("ckpt_name",),
    "CheckpointLoader": ("config_name", "ckpt_name"),
    "ImageOnlyCheckpointLoader": ("ckpt_name",),
    "unCLIPCheckpointLoader": ("ckpt_name",),
    "UNETLoader": ("unet_name", "weight_dtype"),
    "LoraLoader": ("lora_name", "strength_model", "strength_clip"),
    "LoraLoaderModelOnly": ("lora_name", "strength_model"),
    "VAELoader": ("vae_name",),
    "CLIPTextEncode": ("text",),
    "CLIPTextEncodeSDXL": ("width", "height", "crop_w", "crop_h", "target_width", "target_height", "text_g", "text_l"),
    "CLIPTextEncodeSDXLRefiner": ("ascore", "width", "height", "text"),
    "EmptyLatentImage": ("width", "height", "batch_size"),
    "EmptySD3LatentImage": ("width", "height", "batch_size"),
    "EmptyHunyuanLatentVideo": ("width", "height", "length", "batch_size"),
    "EmptyLTXVLatentVideo": ("width", "height", "length", "batch_size"),
    "EmptyMochiLatentVideo": ("width", "height", "length", "batch_size"),
    "StableCascade_EmptyLatentImage": ("width", "height", "compression", "batch_size"),
    "LTXVScheduler": ("steps", "max_shift", "base_shift", "stretch", "terminal"),
    "SDTurboScheduler": ("steps", "denoise"),
    "Flux2Scheduler": ("steps", "width", "height"),
    "HunyuanImageToVideo": ("width", "height", "length", "batch_size", "guidance_type"),
    "WanImageToVideo": ("width", "height", "length", "batch_size"),
    "LTXVImgToVideo": ("width", "height", "length", "batch_size"),
    "Wan22ImageToVideoLatent": ("width", "height", "length", "batch_size"),
    "SVD_img2vid_Conditioning": ("width", "height", "video_frames", "motion_bucket_id", "fps", "augmentation_level"),
    "StableZero123_Conditioning": ("width", "height", "batch_size", "elevation", "azimuth"),
    "GLIGENTextBoxApply": ("text", "width", "height", "x", "y"),
    "TextEncodeQwenImageEdit": ("prompt",),
    "TextEncodeQwenImageEditPlus": ("prompt",),
    "TextEncodeHunyuanVideo_ImageToVideo": ("prompt", "image_interleave"),
    "LatentUpscale": ("upscale_method", "width", "height", "crop"),
    "LatentUpscaleBy": ("upscale_method", "scale_by"),
    "FluxGuidance": ("guidance",),
    "PrimitiveString": ("value",),
    "PrimitiveStringMultiline": ("value",),
    "StringConcatenate": ("string_a", "string_b", "delimiter"),
}
#: UI node modes: 2 = muted ("never"), 4 = bypassed.
MODE_MUTED = 2
MODE_BYPASS = 4


#: Nodes one conditioning or text path may pass through (the walk recurses along it).
MAX_PATH = 200


class _Exhausted(Exception):
    """The walk budget of one graph is spent."""


Link = tuple[str, int]


def _link(value: Any) -> Link | None:
    """``[node_id, slot]`` as (str id, int slot), or None when ``value`` is not a link."""
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str | int)
        and not isinstance(value[0], bool)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    ):
        return str(value[0]), value[1]
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _node_key(node_id: str) -> tuple[int, int, str]:
    """Sort key: numeric ids in numeric order, then the rest."""
    return (0, int(node_id), "") if node_id.isdigit() and len(node_id) < 19 else (1, 0, node_id)


@dataclass
class _Graph:
    """An API graph as read: nodes by id (each with class_type and inputs), and who consumes what."""

    nodes: dict[str, tuple[str, dict[str, Any], str | None]]  # id -> (class_type, inputs, title)
    consumers: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # id -> [(consumer id, input)]


@dataclass
class _Walk:
    """One graph's walk: its budget and where warnings go (each distinct warning once)."""

    graph: _Graph
    ctx: ParseContext
    where: str
    steps_left: int
    warned: set[str] = field(default_factory=set)

    def step(self, cost: int = 1) -> None:
        self.steps_left -= cost
        if self.steps_left < 0:
            raise _Exhausted

    def warn(self, message: str) -> None:
        if message not in self.warned and len(self.warned) < 50:
            self.warned.add(message)
            self.ctx.warn(self.where, message)

    def node(self, link: Link, path: frozenset[str]) -> tuple[str, dict[str, Any]] | None:
        """The (class_type, inputs) a link points at; None (warned) for a missing node or a cycle. A visit costs
        steps by the node's size, so that a huge node reached by many paths cannot make the walk slow."""
        self.step()
        node_id = link[0]
        if node_id in path:
            self.warn(f"cycle in the graph at node {node_id!r}: not followed again")
            return None
        found = self.graph.nodes.get(node_id)
        if found is None:
            self.warn(f"link to missing node {node_id!r}")
            return None
        self.step(len(found[1]) // 8)
        return found[0], found[1]


# --- reading the graphs -------------------------------------------------------------------------------


def _read_api_graph(data: Any, walk_where: str, ctx: ParseContext) -> _Graph | None:
    """The API graph in ``data``, or None when ``data`` is not one (no node with a class_type)."""
    if not isinstance(data, dict):
        return None
    limit = ctx.limits.max_graph_nodes
    nodes: dict[str, tuple[str, dict[str, Any], str | None]] = {}
    skipped = 0
    for count, (node_id, node) in enumerate(data.items()):
        if count >= limit:
            ctx.warn(walk_where, f"graph of {len(data):,} nodes: only the first {limit:,} read")
            break
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str):
            skipped += 1
            continue
        inputs = node.get("inputs")
        if not isinstance(inputs, dict):
            if inputs is not None:
                skipped += 1
            inputs = {}
        meta = node.get("_meta")
        title = meta.get("title") if isinstance(meta, dict) else None
        nodes[str(node_id)] = (node["class_type"], inputs, title if isinstance(title, str) else None)
    if not nodes:
        return None
    if skipped:
        ctx.warn(walk_where, f"{skipped} node(s) without a class_type or with inputs that are not an object: skipped")
    return _with_consumers(nodes)


def _with_consumers(nodes: dict[str, tuple[str, dict[str, Any], str | None]]) -> _Graph:
    graph = _Graph(nodes)
    for node_id, (_cls, inputs, _title) in nodes.items():
        for name, value in inputs.items():
            link = _link(value)
            if link is not None:
                graph.consumers.setdefault(link[0], []).append((node_id, name))
    return graph


def _ui_links(data: dict[str, Any]) -> dict[int, tuple[str, int, Any]]:
    """Link id -> (origin node id, origin slot, type) from a UI graph's links (0.4 arrays or 1.0 objects)."""
    links: dict[int, tuple[str, int, Any]] = {}
    raw = data.get("links")
    if not isinstance(raw, list):
        return links
    for item in raw:
        if isinstance(item, list) and len(item) >= 6:
            link_id, origin, slot, kind = item[0], item[1], item[2], item[5]
        elif isinstance(item, dict):
            link_id, origin, slot, kind = (
                item.get("id"),
                item.get("origin_id"),
                item.get("origin_slot"),
                item.get("type"),
            )
        else:
            continue
        if isinstance(link_id, int) and isinstance(origin, int | str) and isinstance(slot, int):
            links[link_id] = (str(origin), slot, kind)
    return links


def _widget_names(node: dict[str, Any]) -> tuple[tuple[str, ...], bool] | None:
    """The widget names of a UI node in ``widgets_values`` order, and whether they come from ``WIDGETS`` (core
    nodes) rather than from the inputs newer frontends list for every widget (``{"name", "widget": {"name"}}``, a
    control widget assumed after each seed; older frontends list converted widgets only); None when neither."""
    names = WIDGETS.get(node["type"])
    if names is not None:
        return names, True
    inputs = node.get("inputs")
    found: list[str] = []
    for item in inputs if isinstance(inputs, list) else []:
        widget = item.get("widget") if isinstance(item, dict) else None
        if isinstance(widget, dict) and isinstance(widget.get("name"), str):
            found.append(widget["name"])
            if "seed" in widget["name"]:
                found.append(_CONTROL)
    return (tuple(found), False) if found else None


def _widget_inputs(node: dict[str, Any]) -> dict[str, Any]:
    """A UI node's widget values by name: a dict as is; a list named through ``_widget_names`` (names read from
    the inputs count only when they account for every value); else none."""
    values = node.get("widgets_values")
    if isinstance(values, dict):
        return {str(k): v for k, v in values.items()}
    found = _widget_names(node)
    if not isinstance(values, list) or found is None:
        return {}
    names, from_table = found
    named: dict[str, Any] = {}
    index = 0
    for name in names:
        if index >= len(values):
            break
        if name == _CONTROL:
            control = values[index]
            if isinstance(control, bool) or (isinstance(control, str) and control in CONTROL_VALUES):
                index += 1  # older frontends wrote the control widget as a boolean "randomize" toggle
            continue
        named[name] = values[index]
        index += 1
    return named if from_table or index == len(values) else {}


def _read_ui_graph(data: Any, where: str, ctx: ParseContext) -> _Graph | None:
    """A UI graph turned into an API graph: muted nodes dropped, links resolved through Reroute, bypassed and
    primitive nodes; None when ``data`` is not a UI graph."""
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        return None
    limit = ctx.limits.max_graph_nodes
    raw_nodes = data["nodes"]
    if len(raw_nodes) > limit:
        ctx.warn(where, f"workflow of {len(raw_nodes):,} nodes: only the first {limit:,} read")
    ui: dict[str, dict[str, Any]] = {}
    for node in raw_nodes[:limit]:
        if isinstance(node, dict) and isinstance(node.get("type"), str) and isinstance(node.get("id"), int | str):
            ui[str(node["id"])] = node
    if not ui:
        return None
    links = _ui_links(data)
    budget = [ctx.limits.max_walk_steps]

    def bypass_link(node: dict[str, Any], slot: int, slot_type: Any) -> int | None:
        """The link a bypassed node passes on to its output ``slot``: its input at the same index when that has
        the output's type, else its first input of that type (as the ComfyUI frontend does)."""
        node_inputs = node.get("inputs")
        items = [i for i in node_inputs if isinstance(i, dict)] if isinstance(node_inputs, list) else []
        same = items[slot] if 0 <= slot < len(items) and items[slot].get("type") == slot_type else None
        for item in ([same] if same is not None else []) + items:
            if item.get("type") == slot_type and isinstance(item.get("link"), int):
                link: int = item["link"]
                return link
        return None

    def resolve(link_id: int) -> Any:
        """A link as the API graph would hold it: ``[origin, slot]``, a primitive's value, or None."""
        seen: set[int] = set()
        current: int | None = link_id
        while current is not None:
            budget[0] -= 1
            if budget[0] < 0 or current in seen:
                return None
            seen.add(current)
            found = links.get(current)
            if found is None:
                return None
            origin_id, slot, kind = found
            origin = ui.get(origin_id)
            if origin is None:
                return [origin_id, slot]  # a link to a node that is not there: the walk warns
            mode = origin.get("mode")
            if origin["type"] == "Reroute":
                inputs = origin.get("inputs")
                first = inputs[0] if isinstance(inputs, list) and inputs and isinstance(inputs[0], dict) else {}
                current = first.get("link") if isinstance(first.get("link"), int) else None
                continue
            if mode == MODE_BYPASS:
                origin_inputs = origin.get("inputs")
                budget[0] -= len(origin_inputs) // 8 if isinstance(origin_inputs, list) else 0
                current = bypass_link(origin, slot, kind)
                continue
            if mode == MODE_MUTED:
                return None
            if origin["type"] == "PrimitiveNode":
                values = origin.get("widgets_values")
                return values[0] if isinstance(values, list) and values else None
            return [origin_id, slot]
        return None

    nodes: dict[str, tuple[str, dict[str, Any], str | None]] = {}
    for node_id, node in ui.items():
        if node.get("mode") in (MODE_MUTED, MODE_BYPASS) or node["type"] in ("Reroute", "PrimitiveNode", "Note"):
            continue
        inputs = _widget_inputs(node)
        node_inputs = node.get("inputs")
        for item in node_inputs if isinstance(node_inputs, list) else []:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                continue
            if isinstance(item.get("link"), int):
                value = resolve(item["link"])
                if value is not None:
                    inputs[item["name"]] = value
        title = node.get("title")
        nodes[node_id] = (node["type"], inputs, title if isinstance(title, str) else None)
    if budget[0] < 0:
        ctx.warn(where, "workflow links too long or cyclic: some not resolved")
    definitions = data.get("definitions")
    subgraphs = definitions.get("subgraphs") if isinstance(definitions, dict) else None
    inner = {g.get("id") for g in subgraphs[:1000] if isinstance(g, dict)} if isinstance(subgraphs, list) else set()
    extra = data.get("extra")
    groups = extra.get("groupNodes") if isinstance(extra, dict) else None
    if isinstance(groups, dict):  # legacy group nodes: type "workflow/<name>" (later "workflow>name")
        inner |= {f"workflow{sep}{name}" for name in list(groups)[:1000] for sep in ("/", ">")}
    used = {n["type"] for n in ui.values() if n["type"] in inner}
    if used:
        ctx.warn(where, f"workflow uses {len(used)} subgraph or group node type(s): the nodes inside them are not read")
    return _with_consumers(nodes) if nodes else None


def _workflow_extras(data: Any) -> dict[str, Any]:
    """What a UI graph adds to the API graph: frontend version and declared model downloads."""
    extra: dict[str, Any] = {}
    if not isinstance(data, dict):
        return extra
    meta = data.get("extra")
    if isinstance(meta, dict) and isinstance(meta.get("frontendVersion"), str):
        extra["frontend_version"] = meta["frontendVersion"][:100]
    declared: list[dict[str, str]] = []
    sources: list[Any] = [data.get("models")]
    nodes = data.get("nodes")
    if isinstance(nodes, list):
        properties = (n.get("properties") for n in nodes[:10_000] if isinstance(n, dict))
        sources.extend(p.get("models") for p in properties if isinstance(p, dict))
    for source in sources:
        if not isinstance(source, list):
            continue
        for model in source:
            if not isinstance(model, dict) or not isinstance(model.get("name"), str) or len(declared) >= 100:
                continue
            item = {k: str(model[k])[:1000] for k in ("name", "url", "hash", "hash_type", "directory") if k in model}
            if item not in declared:
                declared.append(item)
    if declared:
        extra["workflow_models"] = declared
    return extra


# --- walking from a sampler ---------------------------------------------------------------------------


def _is_sampler(class_type: str, inputs: dict[str, Any]) -> bool:
    if class_type in SAMPLERS:
        return True
    has_seed = any(k in inputs for k in ("seed", "noise_seed", "noise"))
    return has_seed and _link(inputs.get("model")) is not None and _link(inputs.get("positive")) is not None


def _scalar(walk: _Walk, value: Any, names: Sequence[str], path: frozenset[str] = frozenset()) -> Any:
    """A widget value, following a link to a primitive/seed node's first input among ``names``."""
    for _ in range(64):
        link = _link(value)
        if link is None:
            return value
        found = walk.node(link, path)
        if found is None:
            return None
        path = path | {link[0]}
        inputs = found[1]
        value = next((inputs[n] for n in names if n in inputs), None)
    return None


def _string(walk: _Walk, value: Any, path: frozenset[str]) -> str | None:
    """A text input's string: itself, or followed through primitive, string and concatenation nodes."""
    link = _link(value)
    if link is None:
        return value if isinstance(value, str) else None
    if len(path) > MAX_PATH:
        walk.warn(f"text path longer than {MAX_PATH} nodes: not followed further")
        return None
    found = walk.node(link, path)
    if found is None:
        return None
    class_type, inputs = found
    path = path | {link[0]}
    if "string_a" in inputs and "string_b" in inputs:
        parts = [_string(walk, inputs["string_a"], path), _string(walk, inputs["string_b"], path)]
        delimiter = inputs.get("delimiter", "")
        return (delimiter if isinstance(delimiter, str) else "").join(p for p in parts if p is not None)
    for name in STRING_VALUE_INPUTS + TEXT_INPUTS:
        if name in inputs:
            return _string(walk, inputs[name], path)
    walk.warn(f"text from node {link[0]!r} ({class_type}) not read")
    return None


def _texts(walk: _Walk, value: Any, path: frozenset[str], out: list[str], side: str = "positive") -> None:
    """Collect the prompt texts of every encoder that reaches a conditioning input ``value`` (the sampler's
    ``side`` input, "positive" or "negative")."""
    link = _link(value)
    if link is None:
        return
    if len(path) > MAX_PATH:
        walk.warn(f"conditioning path longer than {MAX_PATH} nodes: not followed further")
        return
    found = walk.node(link, path)
    if found is None:
        return
    _class_type, inputs = found
    path = path | {link[0]}
    if "positive" in inputs and "negative" in inputs:
        if isinstance(inputs[side], str):  # a loader with prompt texts (Efficient Loader): the side's own text
            if inputs[side] not in out:
                out.append(inputs[side])
            return
        passed = {0: "positive", 1: "negative"}.get(link[1])  # passes both on: output 0 positive, 1 negative
        if passed is not None:
            _texts(walk, inputs[passed], path, out, side)
        return
    # conditioning this node adds to (GLIGEN's conditioning_to, combine and set-area nodes) comes first
    for name, item in inputs.items():
        if name.startswith(("conditioning", "cond")) or name == "positive":
            _texts(walk, item, path, out, side)
    if "clip" in inputs:  # a text encoder (or a node that encodes text into what it passes on)
        for name in TEXT_INPUTS:
            text = _string(walk, inputs[name], path) if name in inputs else None
            if text is not None and text not in out:
                out.append(text)


def _lora(name: Any, weight: Any, weight_clip: Any) -> ModelRef | None:
    """A LoRA as ComfyUI applies it: none for an empty or "none" name or a strength of 0 (ComfyUI skips those)."""
    if not isinstance(name, str) or name.strip().lower() in ("", "none") or weight == 0:
        return None
    return ModelRef("lora", name, weight=_number(weight), weight_clip=_number(weight_clip), link="name-only")


def _row_key(prefix: str) -> tuple[int, str]:
    row = prefix.rstrip(".").rpartition(".")[2]
    return (int(row), prefix) if row.isdigit() and len(row) < 9 else (1 << 30, prefix)


def _node_loras(walk: _Walk, inputs: dict[str, Any], path: frozenset[str]) -> list[ModelRef]:
    """The LoRAs one node applies, in its own order: LoraLoader/LoraLoaderModelOnly (``lora_name``,
    ``strength_model``, ``strength_clip``; the Efficient Loader's ``lora_model_strength``, ``lora_clip_strength``),
    the efficiency nodes' LoRA Stacker (``lora_name_N`` with ``lora_wt_N`` or ``model_str_N``/``clip_str_N``, up
    to ``lora_count``), the core LoRA stack ``LoadLoraModel`` (rows flattened in the API graph
    as ``loras.N.lora_name``, ``loras.N.strength``, ``loras.N.enabled``) and rgthree's Power Lora Loader
    (``lora_N`` = ``{"on", "lora", "strength", "strengthTwo"}``)."""
    found: list[ModelRef | None] = []
    if "lora_name" in inputs:
        found.append(
            _lora(
                _scalar(walk, inputs["lora_name"], ("value", "lora_name"), path),
                _scalar(walk, inputs.get("strength_model", inputs.get("lora_model_strength")), ("value",), path),
                _scalar(walk, inputs.get("strength_clip", inputs.get("lora_clip_strength")), ("value",), path),
            )
        )
    numbered = (k for k in inputs if k.startswith("lora_name_") and k[10:].isdigit() and len(k) < 20)
    for key in sorted(numbered, key=lambda k: int(k[10:]))[:256]:  # LoRA Stacker rows (efficiency nodes)
        n = key[10:]
        if isinstance(inputs.get("lora_count"), int) and int(n) > inputs["lora_count"]:
            continue
        weight = inputs.get(f"lora_wt_{n}", inputs.get(f"model_str_{n}", 1.0))
        found.append(_lora(inputs[key], weight, inputs.get(f"clip_str_{n}")))
    rows = sorted((k[: -len("lora_name")] for k in inputs if k.endswith(".lora_name")), key=_row_key)
    for prefix in rows[:256]:
        if inputs.get(prefix + "enabled", True) is not False:
            weight = inputs.get(prefix + "strength", inputs.get(prefix + "strength_model", 1.0))
            found.append(_lora(inputs[prefix + "lora_name"], weight, inputs.get(prefix + "strength_clip")))
    for key in sorted((k for k in inputs if k.startswith("lora_") and k[5:].isdigit()), key=lambda k: int(k[5:])):
        item = inputs[key]
        if isinstance(item, dict) and item.get("on") is True:
            found.append(_lora(item.get("lora"), item.get("strength", 1.0), item.get("strengthTwo")))
    return [ref for ref in found if ref is not None]


def _stacked_loras(walk: _Walk, value: Any, path: frozenset[str]) -> list[ModelRef]:
    """The LoRAs of a ``lora_stack`` input: the stacker nodes it links to, each stacker's own stack after it."""
    found: list[ModelRef] = []
    for _ in range(64):
        link = _link(value)
        if link is None:
            break
        node = walk.node(link, path)
        if node is None:
            break
        path = path | {link[0]}
        found.extend(_node_loras(walk, node[1], path))
        value = node[1].get("lora_stack")
    return found


_Chain = tuple[str, Any] | None  # (node id, parent chain): the ancestors of a pending link


def _on_chain(walk: _Walk, node_id: str, chain: _Chain) -> bool:
    """Whether ``node_id`` is an ancestor in ``chain`` (each ancestor looked at costs a walk step)."""
    while chain is not None:
        walk.step()
        if chain[0] == node_id:
            return True
        chain = chain[1]
    return False


def _models(walk: _Walk, value: Any, record: GenerationRecord) -> None:
    """Follow a ``model`` link back through LoRA and patch nodes to the loader(s); fill model and LoRAs."""
    groups: list[list[ModelRef]] = []  # LoRAs per node, walked from the sampler back
    checkpoints: list[tuple[str, str]] = []
    # each pending link carries its chain of ancestors (node id, parent chain), checked only on a revisit
    pending: list[tuple[Any, _Chain]] = [(value, None)]
    seen: set[str] = set()  # a chain can be long: one set for the walk, not a path per node
    try:
        while pending:
            item, chain = pending.pop()
            link = _link(item)
            if link is None:
                continue
            if link[0] in seen:
                if _on_chain(walk, link[0], chain):
                    walk.warn(f"cycle in the graph at node {link[0]!r}: not followed again")
                continue  # else a branch shared by two inputs (a merge of one model): read once
            seen.add(link[0])
            found = walk.node(link, frozenset())
            if found is None:
                continue
            class_type, inputs = found
            path = frozenset({link[0]})
            loras: list[ModelRef] = []
            groups.append(loras)
            name = next((inputs[n] for n in MODEL_NAME_INPUTS if isinstance(inputs.get(n), str)), None)
            loras.extend(_node_loras(walk, inputs, path))
            loras.extend(_stacked_loras(walk, inputs.get("lora_stack"), path))
            if name is not None:
                checkpoints.append((name, class_type))
                continue
            followed = [n for n in ("model", "model1", "model2") if _link(inputs.get(n)) is not None]
            here: _Chain = (link[0], chain)
            pending.extend((inputs[n], here) for n in reversed(followed))
    finally:  # what was read stays when the walk budget ends part way
        _store_models(record, groups, checkpoints)


def _store_models(record: GenerationRecord, groups: list[list[ModelRef]], checkpoints: list[tuple[str, str]]) -> None:
    for group in reversed(groups):  # the loader's end first: the order they are applied in
        record.loras.extend(group)
    for index, (name, loader) in enumerate(checkpoints):
        ref = ModelRef("checkpoint", name, link="name-only")
        if index == 0:
            record.model = ref
            record.extra["model_loader"] = loader
        else:
            record.other_models.append(ref)


def _size(walk: _Walk, value: Any, record: GenerationRecord) -> None:
    """Width and height of the latent a sampler starts from; notes img2img and a previous sampler."""
    scale = 1.0
    path: frozenset[str] = frozenset()
    for _ in range(64):
        link = _link(value)
        if link is None:
            return
        found = walk.node(link, path)
        if found is None:
            return
        class_type, inputs = found
        path = path | {link[0]}
        width = _scalar(walk, inputs.get("width", inputs.get("empty_latent_width")), ("value", "int"), path)
        height = _scalar(walk, inputs.get("height", inputs.get("empty_latent_height")), ("value", "int"), path)
        if "samples" not in inputs and (w := _number(width)) is not None and (h := _number(height)) is not None:
            record.width, record.height = round(w * scale), round(h * scale)
            return
        if class_type == "LatentUpscale" and _number(width) and _number(height):
            record.width, record.height = round(float(width) * scale), round(float(height) * scale)
            return
        if "scale_by" in inputs and (factor := _number(inputs["scale_by"])) is not None:
            scale *= factor
        if _is_sampler(class_type, inputs) and "latent_from_sampler" not in record.extra:
            record.extra["latent_from_sampler"] = link[0]
        if "pixels" in inputs and "vae" in inputs:
            record.extra.setdefault("latent_from", class_type)  # VAEEncode: img2img from an image
            return
        value = next((inputs[n] for n in ("latent_image", "samples", "latent") if n in inputs), None)


def _vae(walk: _Walk, sampler_id: str, record: GenerationRecord) -> None:
    """The VAE the sampler decodes with (KSampler (Efficient)'s own ``vae`` input) or, else, that of the decode
    node taking its output; a loader without a VAE file ("Baked VAE"): the checkpoint's own, noted."""
    own = _link(walk.graph.nodes[sampler_id][1].get("vae"))
    decoders = [(sampler_id, own)] if own is not None else []
    for consumer_id, input_name in walk.graph.consumers.get(sampler_id, [])[:100]:
        walk.step()
        link = _link(walk.graph.nodes[consumer_id][1].get("vae"))
        if input_name == "samples" and link is not None:
            decoders.append((consumer_id, link))
    if not decoders:
        return
    consumer_id, link = decoders[0]
    found = walk.node(link, frozenset({consumer_id}))
    if found is None:
        return
    name = found[1].get("vae_name")
    if isinstance(name, str) and name.strip().lower() not in ("baked vae", "none", ""):
        record.vae = ModelRef("vae", name, link="name-only")
    else:
        record.extra["vae_from"] = found[0]


def _sampler_record(walk: _Walk, sampler_id: str, record: GenerationRecord, extra: dict[str, Any]) -> None:
    """Fill ``record`` from the sampler node ``sampler_id`` (raises ``_Exhausted`` part way when the budget ends:
    what was read by then stays in the record)."""
    class_type, inputs, title = walk.graph.nodes[sampler_id]
    path = frozenset({sampler_id})
    record.extra.update({"sampler_node": sampler_id, "sampler_class": class_type})
    if title and title != class_type:
        record.extra["sampler_title"] = title
    record.extra.update(extra)
    guider: dict[str, Any] = {}
    guider_link = _link(inputs.get("guider"))
    if guider_link is not None:
        found = walk.node(guider_link, path)
        if found is not None:
            guider = found[1]
    sampler_node: dict[str, Any] = {}
    sigmas_node: dict[str, Any] = {}
    for name, target in (("sampler", sampler_node), ("sigmas", sigmas_node)):
        link = _link(inputs.get(name))
        if link is not None and (found := walk.node(link, path)) is not None:
            target.update(found[1])
            if name == "sigmas" and "scheduler" not in found[1]:
                target.setdefault("scheduler", found[0])  # KarrasScheduler, AlignYourStepsScheduler, ...

    seed = _scalar(
        walk, inputs.get("seed", inputs.get("noise_seed", inputs.get("noise"))), ("noise_seed", "seed", "value"), path
    )
    if isinstance(seed, int) and not isinstance(seed, bool):
        record.seed = seed
    steps = _scalar(walk, inputs.get("steps", sigmas_node.get("steps")), ("value", "steps", "int"), path)
    if isinstance(steps, int) and not isinstance(steps, bool):
        record.steps = steps
    record.cfg = _number(_scalar(walk, inputs.get("cfg", guider.get("cfg")), ("value", "cfg", "float"), path))
    sampler_name = _scalar(
        walk, inputs.get("sampler_name", sampler_node.get("sampler_name")), ("value", "sampler_name"), path
    )
    record.sampler = sampler_name if isinstance(sampler_name, str) else None
    scheduler = _scalar(walk, inputs.get("scheduler", sigmas_node.get("scheduler")), ("value", "scheduler"), path)
    record.scheduler = scheduler if isinstance(scheduler, str) else None
    denoise = _number(_scalar(walk, inputs.get("denoise", sigmas_node.get("denoise")), ("value", "float"), path))
    if denoise is not None:
        record.extra["denoise"] = denoise
    for name in ("start_at_step", "end_at_step"):
        if isinstance(inputs.get(name), int) and not isinstance(inputs[name], bool):
            record.extra[name] = inputs[name]
    for bad, value in (("seed", seed), ("steps", steps)):
        if value is not None and not (isinstance(value, int) and not isinstance(value, bool)):
            walk.warn(f"sampler {sampler_id!r}: {bad} is not an integer: {str(value)[:40]!r}")

    _models(walk, inputs.get("model", guider.get("model")), record)
    positive = inputs.get("positive", guider.get("positive", guider.get("conditioning", guider.get("cond1"))))
    for side, value in (("positive", positive), ("negative", inputs.get("negative", guider.get("negative")))):
        texts: list[str] = []
        try:
            _texts(walk, value, path, texts, side)
        finally:  # what was read stays when the walk budget ends part way
            if texts and side == "positive":
                record.prompt = "\n".join(texts)
            elif texts:
                record.negative_prompt = "\n".join(texts)
    _size(walk, inputs.get("latent_image"), record)
    _vae(walk, sampler_id, record)


def _record(where: str, raw: str, ctx: ParseContext) -> GenerationRecord:
    text, truncated = cut(raw, ctx.limits)
    return GenerationRecord(tool=TOOL, where=where, parser=PARSER.name, raw=text, raw_truncated=truncated)


def _records(graph: _Graph, raw: str, where: str, ctx: ParseContext, extra: dict[str, Any]) -> list[GenerationRecord]:
    walk = _Walk(graph, ctx, where, ctx.limits.max_walk_steps)
    samplers = sorted((i for i, (c, inputs, _t) in graph.nodes.items() if _is_sampler(c, inputs)), key=_node_key)
    if not samplers:
        ctx.warn(where, "ComfyUI graph without a sampler node: no generation settings to read")
        record = _record(where, raw, ctx)
        record.extra.update(extra)
        return [record]
    records: list[GenerationRecord] = []
    for sampler_id in samplers:
        if len(records) >= ctx.limits.max_records:
            ctx.warn(where, f"{len(samplers):,} sampler nodes: records for the first {ctx.limits.max_records} only")
            break
        record = _record(where, raw, ctx)
        records.append(record)
        try:
            _sampler_record(walk, sampler_id, record, extra)
        except _Exhausted:
            ctx.warn(where, f"graph walk stopped after {ctx.limits.max_walk_steps:,} steps: the last record is partial")
            break
    return records


# --- the parser -----------------------------------------------------------------------------------------


def _load(carrier: Carrier, ctx: ParseContext) -> Any:
    """The carrier's JSON, or None (warned when it looked like JSON)."""
    text = carrier.text
    if text is None and carrier.data is not None:
        text = carrier.data.decode("utf-8", "replace")
    if text is None or not text.lstrip().startswith(("{", "[")):
        return None
    try:
        return load_json(text, ctx.limits)
    except ValueError as exc:
        ctx.warn(carrier.where, f"ComfyUI {carrier.key} is not readable JSON: {exc}")
        return None


@dataclass(frozen=True)
class ComfyUIParser:
    name: str = "comfyui"
    order: int = 40

    def parse(self, carriers: Sequence[Carrier], ctx: ParseContext) -> list[GenerationRecord]:
        """API graphs first (each with the first unused UI graph of the same container as its partner), then the
        UI graphs left over. A graph is told by its shape, not its key (a ``workflow`` key holding an API graph
        is read as one)."""
        mine = [c for c in carriers if c.key.lower() in ("prompt", "workflow")]
        if not mine:
            return []
        apis: list[tuple[Carrier, _Graph]] = []
        uis: list[tuple[Carrier, dict[str, Any]]] = []
        for carrier in mine:
            data = _load(carrier, ctx)
            if data is None:
                continue
            if isinstance(data, dict) and isinstance(data.get("nodes"), list):
                uis.append((carrier, data))
            elif (graph := _read_api_graph(data, carrier.where, ctx)) is not None:
                apis.append((carrier, graph))
            else:
                ctx.warn(carrier.where, f"ComfyUI {carrier.key} JSON is neither an API graph nor a workflow")
        used: set[int] = set()
        records: list[GenerationRecord] = []
        for carrier, graph in apis:
            ctx.claim(carrier)
            where = carrier.where
            extra: dict[str, Any] = {"graph": "prompt", "graph_nodes": len(graph.nodes)}
            partner = next(
                (i for i, (w, _d) in enumerate(uis) if i not in used and w.container == carrier.container), None
            )
            if partner is not None:
                used.add(partner)
                workflow_carrier, workflow = uis[partner]
                ctx.claim(workflow_carrier)
                where = joined_where([carrier, workflow_carrier])
                extra.update(_workflow_extras(workflow))
            records.extend(_records(graph, carrier.text or "", where, ctx, extra))
        for index, (carrier, data) in enumerate(uis):
            if index in used:
                continue
            ui_graph = _read_ui_graph(data, carrier.where, ctx)
            if ui_graph is None:
                ctx.warn(carrier.where, "ComfyUI workflow without readable nodes")
                continue
            ctx.claim(carrier)
            extra = {"graph": "workflow", "graph_nodes": len(ui_graph.nodes), **_workflow_extras(data)}
            records.extend(_records(ui_graph, carrier.text or "", carrier.where, ctx, extra))
        return records


PARSER = ComfyUIParser()
