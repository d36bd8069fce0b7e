"""Running a detector: the picture made into the model's input as its config says, the model run by onnxruntime
on the CPU (one thread: a scan runs one worker per core), the output made into a score in 0..1.

onnxruntime is optional (``pip install onnxruntime``) and imported only here, only when a detector is used. Each
process keeps its open detectors (:func:`cached_detector`): a config is read, hashed and its model loaded once
per process, and again only when the config or model file changes (size, time or inode).
"""

from __future__ import annotations

import importlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from cairn.signals.detector.config import DetectorConfig, DetectorConfigError, InputSpec, OutputSpec, load_config

INSTALL_HINT = "pip install onnxruntime"
#: Element types of model inputs cairn can feed, by onnxruntime's type name.
INPUT_TYPES: dict[str, type[np.generic]] = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
}
#: A probability output may stray this far outside 0..1 (float rounding) before it is refused.
PROBABILITY_SLACK = 1e-6
#: Open detectors kept per process.
MAX_CACHED = 4
_FILTERS = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
}


class DetectorUnavailable(RuntimeError):
    """onnxruntime is not installed."""


class DetectorRunError(RuntimeError):
    """The model cannot be loaded or run, or gave an output its config cannot read; the message says why."""


def onnxruntime_module() -> Any | None:
    """The ``onnxruntime`` module, or None when it is not installed."""
    try:
        return importlib.import_module("onnxruntime")
    except ImportError:
        return None


def runtime_version() -> str | None:
    """``onnxruntime <version>``, or None when it is not installed."""
    ort = onnxruntime_module()
    return None if ort is None else f"onnxruntime {ort.__version__}"


def crop_box(width: int, height: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the largest central part of a ``width`` x ``height`` picture with the aspect
    ratio of ``size`` (height, width)."""
    target_h, target_w = size
    if width * target_h > height * target_w:  # wider than the target: keep the height
        crop_h, crop_w = height, max(1, min(width, round(height * target_w / target_h)))
    else:
        crop_w, crop_h = width, max(1, min(height, round(width * target_h / target_w)))
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    return left, top, left + crop_w, top + crop_h


def prepare(rgb: np.ndarray, spec: InputSpec) -> np.ndarray:
    """The model input for a picture (HxWx3 or HxW uint8, any strides) as float64, batch 1, in ``spec.layout``."""
    pixels = np.asarray(rgb)
    if pixels.dtype != np.uint8 or not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)):
        raise DetectorRunError(f"pixels of shape {pixels.shape} and type {pixels.dtype}: expected HxWx3 or HxW uint8")
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    height, width = pixels.shape[:2]
    if height < 1 or width < 1:
        raise DetectorRunError(f"an empty picture ({width}x{height} pixels)")
    if spec.crop == "center":
        left, top, right, bottom = crop_box(width, height, spec.size)
        pixels = pixels[top:bottom, left:right]
    picture = Image.fromarray(np.ascontiguousarray(pixels))
    target_h, target_w = spec.size
    resized = picture.resize((target_w, target_h), resample=_FILTERS[spec.resize])
    values = np.asarray(resized, dtype=np.float64)
    if spec.channels == "BGR":
        values = values[:, :, ::-1]
    values = (values * spec.scale - np.asarray(spec.mean)) / np.asarray(spec.std)
    if spec.layout == "NCHW":
        values = values.transpose(2, 0, 1)
    return np.ascontiguousarray(values[None])


def score_of(output: np.ndarray, spec: OutputSpec) -> float:
    """The score in 0..1 an output means under ``spec`` (see :mod:`cairn.signals.detector.config`)."""
    values = np.asarray(output, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise DetectorRunError("the model's output is empty")
    if not np.all(np.isfinite(values)):
        raise DetectorRunError("the model's output holds NaN or infinity")
    if spec.index is None and values.size > 1:
        raise DetectorRunError(
            f"the model's output holds {values.size} values; set 'output.index' in the config to the position of "
            "the AI-generated class"
        )
    index = spec.index or 0
    if index >= values.size:
        raise DetectorRunError(
            f"'output.index' is {index} but the model's output holds {values.size} value(s); "
            f"set it to 0..{values.size - 1}"
        )
    value = float(values[index])
    if spec.kind == "probability":
        if not -PROBABILITY_SLACK <= value <= 1 + PROBABILITY_SLACK:
            raise DetectorRunError(
                f"the model gave {value:g}, not a probability in 0..1; if it outputs logits, set 'output.kind' to "
                "'sigmoid' (one logit) or 'softmax' (one per class)"
            )
        return min(1.0, max(0.0, value))
    if spec.kind == "softmax":
        if values.size < 2:
            raise DetectorRunError("'output.kind' is softmax but the model's output holds one value; use 'sigmoid'")
        exps = np.exp(values - values.max())
        return float(exps[index] / exps.sum())
    # sigmoid / logit, written so that a large logit of either sign never overflows
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    z = math.exp(value)
    return z / (1.0 + z)


def describe(spec: InputSpec, width: int, height: int) -> str:
    """The finding's ``where``: which pixels went into the model and how (sizes are width x height)."""
    target = f"{spec.size[1]}x{spec.size[0]}"
    how = f"resized to {target} ({spec.resize}), {spec.channels}, {spec.layout}"
    if spec.crop == "center":
        left, top, right, bottom = crop_box(width, height, spec.size)
        return f"pixels: central {right - left}x{bottom - top} of the {width}x{height} picture {how}"
    return f"pixels: whole {width}x{height} picture {how}"


@dataclass
class Detector:
    """A config with its model loaded in an onnxruntime session."""

    config: DetectorConfig
    session: Any
    input_name: str
    output_name: str
    input_dtype: type[np.generic]
    runtime: str

    def score(self, rgb: np.ndarray) -> float:
        """The score of one picture (HxWx3 or HxW uint8); raises ``DetectorRunError``."""
        tensor = prepare(rgb, self.config.input).astype(self.input_dtype)
        try:
            outputs = self.session.run([self.output_name], {self.input_name: tensor})
        except Exception as exc:  # onnxruntime's own exception types (Fail, InvalidArgument, ...)
            raise DetectorRunError(f"the model failed to run: {_first_line(exc)}") from exc
        return score_of(np.asarray(outputs[0]), self.config.output)


def open_detector(config: DetectorConfig) -> Detector:
    """Load ``config``'s model on the CPU with one thread and check its input against the config.

    Raises ``DetectorUnavailable`` without onnxruntime, ``DetectorRunError`` when the model cannot be loaded or
    its input or output does not fit the config.
    """
    ort = onnxruntime_module()
    if ort is None:
        raise DetectorUnavailable(f"onnxruntime is not installed; a detector needs it: {INSTALL_HINT}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: they come back as exceptions anyway
    try:
        session = ort.InferenceSession(str(config.model), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise DetectorRunError(f"onnxruntime cannot load the model {config.model}: {_first_line(exc)}") from exc
    model_input = _pick(session.get_inputs(), config.input.name, "input")
    model_output = _pick(session.get_outputs(), config.output.name, "output")
    dtype = INPUT_TYPES.get(str(model_input.type))
    if dtype is None:
        raise DetectorRunError(
            f"the model's input {model_input.name!r} takes {model_input.type}; cairn feeds float, float16 or double"
        )
    _check_shape(list(model_input.shape), config.input, model_input.name)
    return Detector(config, session, model_input.name, model_output.name, dtype, f"onnxruntime {ort.__version__}")


def probe(detector: Detector) -> float:
    """Run the detector once on a small mid-grey picture: proves the model runs and its output reads."""
    return detector.score(np.full((16, 16, 3), 128, dtype=np.uint8))


def _pick(items: list[Any], name: str | None, what: str) -> Any:
    names = [str(i.name) for i in items]
    if name is not None:
        for item in items:
            if item.name == name:
                return item
        raise DetectorRunError(f"the model has no {what} named {name!r}; its {what}s are {', '.join(names) or 'none'}")
    if not items:
        raise DetectorRunError(f"the model has no {what}")
    if what == "input" and len(items) > 1:
        raise DetectorRunError(f"the model has {len(items)} inputs ({', '.join(names)}); name one in 'input.name'")
    return items[0]


def _check_shape(shape: list[Any], spec: InputSpec, name: str) -> None:
    height, width = spec.size
    expected = [1, 3, height, width] if spec.layout == "NCHW" else [1, height, width, 3]
    fixed = [d if isinstance(d, int) and d > 0 else None for d in shape]
    if len(shape) != 4 or any(f is not None and f != e for f, e in zip(fixed, expected, strict=True)):
        shown = "[" + ", ".join(str(d) for d in shape) + "]"
        raise DetectorRunError(
            f"the model's input {name!r} has shape {shown}, but the config says {spec.layout} with size "
            f"[{height}, {width}], i.e. {expected}; correct 'input.size' or 'input.layout'"
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:500] if text else ''}"


@dataclass
class _Cached:
    stamp: tuple[Any, ...]
    model_path: Path | None
    detector: Detector | None
    error: Exception | None


_cache: dict[str, _Cached] = {}


def _stamp(path: Path | None) -> tuple[Any, ...]:
    if path is None:
        return ()
    try:
        st = os.stat(path)
    except OSError:
        return ("missing",)
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def cached_detector(path: str | Path) -> Detector:
    """This process's open detector for the config at ``path`` (loaded, hashed and checked once; again when the
    config or model file changes). A config that failed keeps failing with the same error, without being read
    again, until a file changes. Raises ``DetectorConfigError``, ``DetectorUnavailable`` or ``DetectorRunError``."""
    key = str(Path(path).absolute())
    entry = _cache.get(key)
    if entry is not None and entry.stamp == (_stamp(Path(key)), _stamp(entry.model_path)):
        if entry.error is not None:
            raise entry.error
        assert entry.detector is not None
        return entry.detector
    config_stamp = _stamp(Path(key))
    model_path: Path | None = None
    try:
        config = load_config(key)
        model_path = config.model
        model_stamp = _stamp(model_path)
        detector = open_detector(config)
    except (DetectorConfigError, DetectorUnavailable, DetectorRunError) as exc:
        _remember(key, _Cached((config_stamp, _stamp(model_path)), model_path, None, exc))
        raise
    _remember(key, _Cached((config_stamp, model_stamp), model_path, detector, None))
    return detector


def _remember(key: str, entry: _Cached) -> None:
    _cache.pop(key, None)
    while len(_cache) >= MAX_CACHED:
        _cache.pop(next(iter(_cache)))
    _cache[key] = entry
