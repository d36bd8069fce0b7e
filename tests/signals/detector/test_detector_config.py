"""The detector config: a valid one loads with both digests; every kind of mistake is refused, naming the field."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from cairn.signals.detector.config import MAX_CONFIG_BYTES, DetectorConfigError, load_config, parse_config
from tests.signals.detector.tiny_model import config_dict, write_detector


def test_a_valid_config_loads_with_its_fields_and_the_digests_of_both_files(tmp_path: Path) -> None:
    path = write_detector(tmp_path / "det", input={"resize": "bicubic", "crop": "center"}, description="a test")
    config = load_config(path)
    assert config.name == "tiny-red-blue" and config.version == "1.0"
    assert config.model == tmp_path / "det" / "tiny.onnx"  # relative to the config's folder, not the cwd
    assert config.input.size == (32, 32) and config.input.layout == "NCHW" and config.input.channels == "RGB"
    assert config.input.scale == pytest.approx(1 / 255)
    assert config.input.mean == (0.0, 0.0, 0.0) and config.input.std == (1.0, 1.0, 1.0)
    assert (config.input.resize, config.input.crop) == ("bicubic", "center")
    assert config.output.kind == "probability" and config.output.index is None
    assert config.output.label == "AI-generated (test: red)"
    assert config.threshold == 0.5 and config.description == "a test"
    assert config.config_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert config.model_sha256 == hashlib.sha256((tmp_path / "det" / "tiny.onnx").read_bytes()).hexdigest()
    assert config.identity() == {
        "detector": "tiny-red-blue",
        "version": "1.0",
        "config_sha256": config.config_sha256,
        "model_sha256": config.model_sha256,
    }


def test_defaults_of_the_optional_fields() -> None:
    doc = config_dict()
    del doc["threshold"]
    fields = parse_config(json.dumps(doc).encode())
    assert fields["threshold"] == 0.5
    assert (fields["input"].resize, fields["input"].crop, fields["input"].name) == ("bilinear", "none", None)
    assert fields["output"].name is None and fields["description"] is None


def _without(*keys: str) -> dict[str, Any]:
    doc = config_dict()
    for key in keys:
        section, _, field = key.partition(".")
        if field:
            del doc[section][field]
        else:
            del doc[section]
    return doc


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("no name", _without("name"), "'name' is missing"),
    ("no version", _without("version"), "'version' is missing"),
    ("a number as version", config_dict(version=2), "'version' is 2"),
    ("no model", _without("model"), "'model' is missing"),
    ("model not onnx", config_dict(model="weights.pt"), "must name an .onnx file"),
    ("a typo", {**config_dict(), "treshold": 0.5}, "unknown field(s) 'treshold' in the config"),
    ("a typo inside input", config_dict(input={"sise": [1, 1]}), "unknown field(s) 'sise' in 'input'"),
    ("no input", _without("input"), "'input' is missing; it must be a JSON object"),
    ("input a list", {**config_dict(), "input": [1]}, "'input' is [1]"),
    ("size of one number", config_dict(input={"size": [32]}), "'input.size' is [32]; write [height, width]"),
    ("size zero", config_dict(input={"size": [0, 32]}), "'input.size' is [0, 32]"),
    ("size too large", config_dict(input={"size": [5000, 32]}), "from 1 to 4096"),
    ("size as floats", config_dict(input={"size": [32.0, 32.0]}), "'input.size'"),
    ("no layout", _without("input.layout"), "'input.layout' is missing; write one of 'NCHW', 'NHWC'"),
    ("layout CHW", config_dict(input={"layout": "CHW"}), "'input.layout' is \"CHW\""),
    ("channels lower case", config_dict(input={"channels": "rgb"}), "'input.channels' is \"rgb\"; write one of"),
    ("scale zero", config_dict(input={"scale": 0}), "'input.scale' is 0; write a number above 0"),
    ("scale as text", config_dict(input={"scale": "1/255"}), "'input.scale' is \"1/255\""),
    ("scale true", config_dict(input={"scale": True}), "'input.scale' is true"),
    ("mean of two", config_dict(input={"mean": [0.5, 0.5]}), "'input.mean' is [0.5, 0.5]; write three numbers"),
    ("std with a zero", config_dict(input={"std": [1, 0, 1]}), "'input.std' is [1, 0, 1]; write three numbers above 0"),
    ("no std", _without("input.std"), "'input.std' is missing"),
    ("resize area", config_dict(input={"resize": "area"}), "'input.resize' is \"area\"; write one of 'bilinear'"),
    ("crop middle", config_dict(input={"crop": "middle"}), "'input.crop' is \"middle\"; write one of 'none', 'center'"),
    ("kind tanh", config_dict(output={"kind": "tanh"}), "'output.kind' is \"tanh\"; write one of 'probability'"),
    ("softmax without index", config_dict(output={"kind": "softmax"}), "'output.index' is missing"),
    ("negative index", config_dict(output={"index": -1}), "'output.index' is -1"),
    ("index as text", config_dict(output={"index": "1"}), "'output.index' is \"1\""),
    ("no label", _without("output.label"), "'output.label' is missing"),
    ("empty label", config_dict(output={"label": "  "}), "'output.label' is \"  \""),
    ("threshold above 1", config_dict(threshold=1.5), "'threshold' is 1.5; write a number from 0 to 1"),
    ("control characters", config_dict(name="a\u0007b"), "'name' holds control characters"),
    ("a long name", config_dict(name="n" * 201), "at most 200 characters"),
]


@pytest.mark.parametrize(("doc", "message"), [(d, m) for _, d, m in BAD], ids=[i for i, _, _ in BAD])
def test_a_mistake_is_refused_naming_the_field_and_the_fix(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(DetectorConfigError) as caught:
        parse_config(json.dumps(doc).encode(), "det.json")
    assert str(caught.value).startswith("det.json")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "is not valid JSON"),
        (b"[1, 2]", "the config is [1, 2]; it must be a JSON object"),
        (b'{"name": "a", "name": "b"}', "the field 'name' is given twice"),
        (b'{"threshold": NaN}', "NaN is not a number JSON allows"),
        (b'{"threshold": Infinity}', "Infinity is not a number JSON allows"),
        (b"\xff\xfe{}", "is not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_bytes_that_are_no_config_are_refused(raw: bytes, message: str) -> None:
    with pytest.raises(DetectorConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_config(raw, "det.json")


def test_files_that_cannot_be_used_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DetectorConfigError, match="cannot read the detector config"):
        load_config(tmp_path / "none.json")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(DetectorConfigError, match="over 64 KiB"):
        load_config(big)
    missing_model = tmp_path / "missing.json"
    missing_model.write_text(json.dumps(config_dict("absent.onnx")), encoding="utf-8")
    with pytest.raises(DetectorConfigError, match="cannot read the model .*absent.onnx.*relative to the config's"):
        load_config(missing_model)
    (tmp_path / "folder.onnx").mkdir()
    folder_model = tmp_path / "folder.json"
    folder_model.write_text(json.dumps(config_dict("folder.onnx")), encoding="utf-8")
    with pytest.raises(DetectorConfigError, match="not a regular file|cannot read the model"):
        load_config(folder_model)
