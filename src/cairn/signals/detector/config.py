"""The detector config: a small JSON file, supplied by the user beside their ONNX model, that says how to feed the
model a picture and how to read its answer. :func:`load_config` reads and validates it strictly (every error says
which field is wrong and what to write instead) and records the SHA-256 of the config and of the model file.

Format (every field listed; unknown fields are refused, so a typo never silently falls back to a default)::

    {
      "name": "my-detector",              # required, text: the detector's name, stored with every score
      "version": "2024-06",               # required, text: its version, stored with every score
      "model": "my-detector.onnx",        # required: the .onnx file, relative to this JSON's folder (or absolute)
      "input": {
        "size": [224, 224],               # required: [height, width] the model takes, 1..4096 each
        "layout": "NCHW",                 # required: "NCHW" (channels first) or "NHWC" (channels last)
        "channels": "RGB",                # required: "RGB" or "BGR", the channel order the model expects
        "scale": 0.00392156862745098,     # required: each 0..255 pixel value is multiplied by this (1/255 here)
        "mean": [0.485, 0.456, 0.406],    # required: subtracted after scaling, per channel, in the model's order
        "std": [0.229, 0.224, 0.225],     # required: then divided by, per channel (> 0)
        "resize": "bilinear",             # optional: "bilinear" (default), "bicubic", "nearest", "lanczos"
        "crop": "none",                   # optional: "none" (default: whole picture, aspect ratio not kept) or
                                          #   "center" (the largest central part of the size's aspect ratio)
        "name": "pixel_values"            # optional: the model input to feed (default: its only input)
      },
      "output": {
        "kind": "softmax",                # required: how the output becomes a probability, see below
        "index": 1,                       # the output value of the AI-generated class (required for softmax
                                          #   and for any output with more than one value; default 0)
        "label": "AI-generated",          # required, text: what a high score means, stored with every score
        "name": "logits"                  # optional: the model output to read (default: its first output)
      },
      "threshold": 0.5,                   # optional: scores >= this are "above threshold" (default 0.5)
      "description": "..."                # optional, text: a note for the reader, not used
    }

Output kinds: ``probability`` (the model outputs probabilities: the score is ``output[index]``, which must lie in
0..1), ``sigmoid`` or its synonym ``logit`` (the model outputs a logit: the score is the logistic sigmoid of
``output[index]``), ``softmax`` (the model outputs one logit per class: the score is the softmax over the
output's values, taken at ``index``). The output is read with its batch dimension flattened away (batch 1).

A picture goes in as: grey pictures copied to three channels; optionally the central crop; a resize with
Pillow's filter (antialiased when shrinking) to ``size``; ``channels`` order; ``(value * scale - mean) / std``;
``layout`` with a batch dimension of 1, as the model input's element type (float, float16 or double).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Largest config file read (bytes): a config is a few hundred bytes.
MAX_CONFIG_BYTES = 64 * 1024
#: Largest model file accepted (bytes): ONNX files are protocol buffers, which cannot exceed 2 GiB.
MAX_MODEL_BYTES = 2 * 1024**3
#: Largest input side (pixels).
MAX_SIDE = 4096
#: Longest text field (characters).
MAX_TEXT = 200
LAYOUTS = ("NCHW", "NHWC")
CHANNEL_ORDERS = ("RGB", "BGR")
RESIZE_FILTERS = ("bilinear", "bicubic", "nearest", "lanczos")
CROPS = ("none", "center")
OUTPUT_KINDS = ("probability", "sigmoid", "logit", "softmax")
DEFAULT_THRESHOLD = 0.5

_TOP_KEYS = {"name", "version", "model", "input", "output", "threshold", "description"}
_INPUT_KEYS = {"size", "layout", "channels", "scale", "mean", "std", "resize", "crop", "name"}
_OUTPUT_KEYS = {"kind", "index", "label", "name"}
_HASH_CHUNK = 1024 * 1024


class DetectorConfigError(ValueError):
    """The config (or the model file it names) cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class InputSpec:
    """How a picture becomes the model's input tensor."""

    size: tuple[int, int]  # (height, width)
    layout: str
    channels: str
    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize: str = "bilinear"
    crop: str = "none"
    name: str | None = None


@dataclass(frozen=True)
class OutputSpec:
    """How the model's output becomes a score in 0..1."""

    kind: str
    label: str
    index: int | None = None  # None: not given (0 for a one-value output, an error for a larger one)
    name: str | None = None


@dataclass(frozen=True)
class DetectorConfig:
    """A validated config, with the resolved model path and the SHA-256 of both files."""

    path: Path
    name: str
    version: str
    model: Path
    input: InputSpec
    output: OutputSpec
    threshold: float
    config_sha256: str
    model_sha256: str
    description: str | None = None

    def identity(self) -> dict[str, str]:
        """What names this detector in every score and run record: name, version and both digests."""
        return {
            "detector": self.name,
            "version": self.version,
            "config_sha256": self.config_sha256,
            "model_sha256": self.model_sha256,
        }


def load_config(path: str | Path) -> DetectorConfig:
    """Read, validate and hash the config at ``path`` and the model it names; raises ``DetectorConfigError``."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise DetectorConfigError(f"cannot read the detector config {path}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise DetectorConfigError(
            f"the detector config {path} is over {MAX_CONFIG_BYTES // 1024} KiB; a config is a small JSON object "
            "(name, version, model, input, output)"
        )
    fields = parse_config(raw, str(path))
    model = Path(fields["model"])
    if not model.is_absolute():
        model = path.absolute().parent / model
    return DetectorConfig(
        path=path.absolute(),
        name=fields["name"],
        version=fields["version"],
        model=model,
        input=fields["input"],
        output=fields["output"],
        threshold=fields["threshold"],
        config_sha256=hashlib.sha256(raw).hexdigest(),
        model_sha256=model_sha256(model),
        description=fields["description"],
    )


def model_sha256(model: Path) -> str:
    """SHA-256 of the model file, read in chunks; refuses what is not a regular file of at most 2 GiB."""
    try:
        with model.open("rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise DetectorConfigError(f"the model {model} is not a regular file; 'model' must name an .onnx file")
            if st.st_size > MAX_MODEL_BYTES:
                raise DetectorConfigError(
                    f"the model {model} is {st.st_size:,} bytes, over the 2 GiB an ONNX file can hold; "
                    "models with external weight files are not supported"
                )
            digest = hashlib.sha256()
            while chunk := fh.read(_HASH_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise DetectorConfigError(
            f"cannot read the model {model}: {exc.strerror or exc}; 'model' is a path relative to the config's "
            "folder (or absolute)"
        ) from exc
    return digest.hexdigest()


def parse_config(raw: bytes, origin: str = "the config") -> dict[str, Any]:
    """The validated fields of a config's bytes (``model`` as written, not resolved; nothing is read from disk):
    ``name``, ``version``, ``model``, ``input`` (:class:`InputSpec`), ``output`` (:class:`OutputSpec`),
    ``threshold``, ``description``. Raises ``DetectorConfigError``."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DetectorConfigError(f"{origin} is not UTF-8 text; save it as UTF-8 JSON") from exc
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except DetectorConfigError as exc:
        raise DetectorConfigError(f"{origin}: {exc}") from exc
    except RecursionError as exc:
        raise DetectorConfigError(f"{origin} is nested too deeply to be a detector config") from exc
    except ValueError as exc:
        raise DetectorConfigError(f"{origin} is not valid JSON: {exc}") from exc
    where = _Where(origin)
    top = where.object(doc, "", _TOP_KEYS)
    name = where.text(top, "name", required=True)
    version = where.text(top, "version", required=True)
    model = where.text(top, "model", required=True)
    if not model.lower().endswith(".onnx"):
        raise DetectorConfigError(f"{origin}: 'model' is {model!r}; it must name an .onnx file")
    return {
        "name": name,
        "version": version,
        "model": model,
        "input": _input_spec(where, where.object(top.get("input"), "input", _INPUT_KEYS)),
        "output": _output_spec(where, where.object(top.get("output"), "output", _OUTPUT_KEYS)),
        "threshold": where.number(top, "threshold", low=0.0, high=1.0, default=DEFAULT_THRESHOLD),
        "description": where.text(top, "description", required=False, limit=4000) or None,
    }


def _input_spec(where: _Where, spec: dict[str, Any]) -> InputSpec:
    size = spec.get("size")
    if (
        not isinstance(size, list)
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_SIDE for v in size)
    ):
        raise DetectorConfigError(
            f"{where.origin}: 'input.size' is {_show(size)}; write [height, width], two whole numbers "
            f"from 1 to {MAX_SIDE}, e.g. [224, 224]"
        )
    scale = where.number(spec, "scale", low=0.0, high=None, prefix="input.", positive=True)
    return InputSpec(
        size=(size[0], size[1]),
        layout=where.choice(spec, "layout", LAYOUTS, prefix="input."),
        channels=where.choice(spec, "channels", CHANNEL_ORDERS, prefix="input."),
        scale=scale,
        mean=where.triple(spec, "mean", positive=False),
        std=where.triple(spec, "std", positive=True),
        resize=where.choice(spec, "resize", RESIZE_FILTERS, prefix="input.", default="bilinear"),
        crop=where.choice(spec, "crop", CROPS, prefix="input.", default="none"),
        name=where.text(spec, "name", required=False, prefix="input.") or None,
    )


def _output_spec(where: _Where, spec: dict[str, Any]) -> OutputSpec:
    kind = where.choice(spec, "kind", OUTPUT_KINDS, prefix="output.")
    index = spec.get("index")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 1_000_000):
        raise DetectorConfigError(
            f"{where.origin}: 'output.index' is {_show(index)}; write the position (0, 1, ...) of the AI-generated "
            "class among the model's output values"
        )
    if kind == "softmax" and index is None:
        raise DetectorConfigError(
            f"{where.origin}: 'output.kind' is softmax but 'output.index' is missing; write the position of the "
            "AI-generated class among the classes, e.g. \"index\": 1"
        )
    return OutputSpec(
        kind=kind,
        label=where.text(spec, "label", required=True, prefix="output."),
        index=index,
        name=where.text(spec, "name", required=False, prefix="output.") or None,
    )


class _Where:
    """Field readers that name the config and the field in every error."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def object(self, value: Any, name: str, allowed: set[str]) -> dict[str, Any]:
        label = f"'{name}'" if name else "the config"
        if not isinstance(value, dict):
            what = "is missing" if value is None else f"is {_show(value)}"
            raise DetectorConfigError(f"{self.origin}: {label} {what}; it must be a JSON object {{...}}")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise DetectorConfigError(
                f"{self.origin}: unknown field(s) {', '.join(repr(k) for k in unknown)} in {label}; "
                f"the fields are {', '.join(sorted(allowed))}"
            )
        return value

    def text(
        self, spec: dict[str, Any], key: str, required: bool, prefix: str = "", limit: int = MAX_TEXT
    ) -> str:
        value = spec.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            what = "is missing" if value is None else f"is {_show(value)}"
            raise DetectorConfigError(
                f"{self.origin}: '{prefix}{key}' {what}; it must be a non-empty text of at most {limit} characters"
            )
        if any(ord(c) < 32 for c in value):
            raise DetectorConfigError(f"{self.origin}: '{prefix}{key}' holds control characters; remove them")
        return value

    def choice(
        self, spec: dict[str, Any], key: str, options: tuple[str, ...], prefix: str = "", default: str | None = None
    ) -> str:
        value = spec.get(key)
        if value is None and default is not None:
            return default
        if value not in options:
            what = "is missing" if value is None else f"is {_show(value)}"
            raise DetectorConfigError(
                f"{self.origin}: '{prefix}{key}' {what}; write one of {', '.join(repr(o) for o in options)}"
            )
        return str(value)

    def number(
        self,
        spec: dict[str, Any],
        key: str,
        low: float,
        high: float | None,
        prefix: str = "",
        default: float | None = None,
        positive: bool = False,
    ) -> float:
        value = spec.get(key)
        if value is None and default is not None:
            return default
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            number = float(value)
            if number >= low and (high is None or number <= high) and (not positive or number > 0):
                return number
        what = "is missing" if value is None else f"is {_show(value)}"
        bound = f"from {low:g} to {high:g}" if high is not None else ("above 0" if positive else f"at least {low:g}")
        raise DetectorConfigError(f"{self.origin}: '{prefix}{key}' {what}; write a number {bound}")

    def triple(self, spec: dict[str, Any], key: str, positive: bool) -> tuple[float, float, float]:
        value = spec.get(key)
        if (
            isinstance(value, list)
            and len(value) == 3
            and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value)
            and (not positive or all(v > 0 for v in value))
        ):
            return (float(value[0]), float(value[1]), float(value[2]))
        what = "is missing" if value is None else f"is {_show(value)}"
        rule = "three numbers above 0" if positive else "three numbers"
        raise DetectorConfigError(
            f"{self.origin}: 'input.{key}' {what}; write {rule}, one per channel in the model's channel order"
            + (" (use [1, 1, 1] for none)" if positive else " (use [0, 0, 0] for none)")
        )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DetectorConfigError(f"the field {key!r} is given twice; keep one")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise DetectorConfigError(f"{name} is not a number JSON allows; write a finite number")


def _show(value: Any) -> str:
    """A short rendering of a bad value for an error message."""
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 60 else text[:57] + "..."
