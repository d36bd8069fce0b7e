"""A tiny ONNX "detector" the tests build themselves, and its formula in NumPy to check cairn against.

The model takes one picture (batch 1, 3 channels, 32x32 by default, NCHW or NHWC) and computes
``z = k * (mean(channel 0) - mean(channel 2))``; heads: ``sigmoid`` outputs sigmoid(z) (shape [1]), ``logit``
outputs z (shape [1]), ``two_class`` outputs the logits [0, z] (shape [1, 2]; class 1's softmax is sigmoid(z)).
With RGB input and no normalisation, red pictures score high and blue ones low.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="pip install onnx")
pytest.importorskip("onnxruntime", reason="pip install onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

K = 8.0
SIZE = (32, 32)


def build_model(
    path: Path, k: float = K, layout: str = "NCHW", head: str = "sigmoid", size: tuple[int, int] = SIZE
) -> Path:
    """Write the tiny model to ``path`` (see the module docstring) and return ``path``."""
    height, width = size
    shape = [1, 3, height, width] if layout == "NCHW" else [1, height, width, 3]
    axis = 1 if layout == "NCHW" else 3
    mean_axes = [1, 2]  # after Gather removed the channel axis: [1, H, W] either way
    nodes = [
        helper.make_node("Gather", ["pixels", "zero"], ["first"], axis=axis),
        helper.make_node("Gather", ["pixels", "two"], ["third"], axis=axis),
        helper.make_node("ReduceMean", ["first"], ["m_first"], axes=mean_axes, keepdims=0),
        helper.make_node("ReduceMean", ["third"], ["m_third"], axes=mean_axes, keepdims=0),
        helper.make_node("Sub", ["m_first", "m_third"], ["diff"]),
        helper.make_node("Mul", ["diff", "k"], ["z"]),
    ]
    if head == "sigmoid":
        nodes.append(helper.make_node("Sigmoid", ["z"], ["score"]))
        out_shape: list[int] = [1]
    elif head == "logit":
        nodes.append(helper.make_node("Identity", ["z"], ["score"]))
        out_shape = [1]
    elif head == "two_class":
        nodes.append(helper.make_node("Mul", ["z", "nought"], ["zero_logit"]))
        nodes.append(helper.make_node("Concat", ["zero_logit", "z"], ["flat"], axis=0))
        nodes.append(helper.make_node("Reshape", ["flat", "two_shape"], ["score"]))
        out_shape = [1, 2]
    else:
        raise ValueError(head)
    initializers = [
        helper.make_tensor("zero", TensorProto.INT64, [], [0]),
        helper.make_tensor("two", TensorProto.INT64, [], [2]),
        helper.make_tensor("k", TensorProto.FLOAT, [], [k]),
        helper.make_tensor("nought", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("two_shape", TensorProto.INT64, [2], [1, 2]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_red_minus_blue",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, out_shape)],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="cairn-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def config_dict(model: str = "tiny.onnx", **changes: Any) -> dict[str, Any]:
    """A valid config for the tiny model (sigmoid head, NCHW, 0..1 scaling); ``input``/``output`` entries given in
    ``changes`` are merged into those objects, other keys replace top-level fields."""
    doc: dict[str, Any] = {
        "name": "tiny-red-blue",
        "version": "1.0",
        "model": model,
        "input": {
            "size": list(SIZE),
            "layout": "NCHW",
            "channels": "RGB",
            "scale": 1 / 255,
            "mean": [0.0, 0.0, 0.0],
            "std": [1.0, 1.0, 1.0],
        },
        "output": {"kind": "probability", "label": "AI-generated (test: red)"},
        "threshold": 0.5,
    }
    for key, value in changes.items():
        if key in ("input", "output"):
            doc[key].update(value)
        else:
            doc[key] = value
    return doc


def write_detector(folder: Path, name: str = "tiny", head: str = "sigmoid", layout: str = "NCHW", k: float = K,
                   size: tuple[int, int] = SIZE, **changes: Any) -> Path:
    """The tiny model and its config written into ``folder``; returns the config's path."""
    folder.mkdir(parents=True, exist_ok=True)
    build_model(folder / f"{name}.onnx", k=k, layout=layout, head=head, size=size)
    kind = {"sigmoid": "probability", "logit": "sigmoid", "two_class": "softmax"}[head]
    output: dict[str, Any] = {"kind": kind, **({"index": 1} if head == "two_class" else {})}
    output.update(changes.pop("output", {}))
    inputs = {"layout": layout, "size": list(size), **changes.pop("input", {})}
    doc = config_dict(f"{name}.onnx", input=inputs, output=output, **changes)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def expected_score(
    rgb: np.ndarray,
    k: float = K,
    scale: float = 1 / 255,
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0),
    std: tuple[float, float, float] = (1.0, 1.0, 1.0),
    channels: str = "RGB",
) -> float:
    """The tiny model's score of an already-sized HxWx3 picture, in NumPy (float64), independent of cairn."""
    x = np.asarray(rgb, dtype=np.float64)
    if channels == "BGR":
        x = x[:, :, ::-1]
    x = (x * scale - np.asarray(mean)) / np.asarray(std)
    z = k * (x[:, :, 0].mean() - x[:, :, 2].mean())
    return float(1.0 / (1.0 + np.exp(-z)))


def solid(rgb: tuple[int, int, int], size: tuple[int, int] = SIZE) -> np.ndarray:
    """A ``size`` (height, width) picture of one colour."""
    return np.broadcast_to(np.asarray(rgb, dtype=np.uint8), (*size, 3)).copy()
