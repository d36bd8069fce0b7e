"""The demo's model files are what the real libraries read as such (written byte for byte by cairn, so their
hashes are fixed): safetensors by the safetensors library, GGUF by the gguf package's reader, ONNX by onnx's
loader and checker, the zip checkpoint by zipfile, every pickle opcode by pickletools (walked, never loaded)."""

from __future__ import annotations

import io
import json
import pickletools
import zipfile
from pathlib import Path

import pytest

from cairn.demo import ai_models


def files_ending(suffix: str) -> dict[str, bytes]:
    return {k: v for k, v in ai_models.model_files().items() if k.endswith(suffix)}


def test_deterministic() -> None:
    ai_models.model_files.cache_clear()
    first = dict(ai_models.model_files())
    ai_models.model_files.cache_clear()
    assert ai_models.model_files() == first


def test_safetensors_files_load_with_the_library(tmp_path: Path) -> None:
    safe_open = pytest.importorskip("safetensors", reason="pip install safetensors").safe_open
    for rel, data in files_ending(".safetensors").items():
        path = tmp_path / "x.safetensors"
        path.write_bytes(data)
        with safe_open(str(path), "np") as f:
            assert list(f.keys())
            for key in f.keys():  # noqa: SIM118 - safe_open is not iterable
                f.get_tensor(key)
            if "beachStyle" in rel:
                assert json.loads(f.metadata()["ss_tag_frequency"])["10_beach bicycles"]["bicycle"] == 14


def test_gguf_reads_with_the_gguf_package(tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf", reason="pip install gguf")
    (data,) = files_ending(".gguf").values()
    path = tmp_path / "x.gguf"
    path.write_bytes(data)
    reader = gguf.GGUFReader(str(path))
    field = reader.fields["general.name"]
    assert bytes(field.parts[field.data[0]]).decode() == "tiny test model"
    assert [t.name for t in reader.tensors] == ["token_embd.weight", "blk.0.attn_q.weight"]
    assert [list(map(int, t.shape)) for t in reader.tensors] == [[16, 300], [16, 16]]


def test_onnx_loads_and_checks() -> None:
    onnx = pytest.importorskip("onnx", reason="pip install onnx")
    (data,) = files_ending(".onnx").values()
    model = onnx.load_from_string(data)
    onnx.checker.check_model(model)
    assert [i.name for i in model.graph.input] == ["x"] and model.graph.node[0].op_type == "MatMul"


def test_checkpoint_pickles_are_well_formed() -> None:
    (legacy,) = files_ending(".ckpt").values()
    stream = io.BytesIO(legacy)
    for _ in range(5):  # magic, protocol, sys info, the state dict, the storage keys
        ops = list(pickletools.genops(stream))
        assert ops[-1][0].name == "STOP"
    (zipped,) = files_ending(".pt").values()
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        assert archive.namelist()[0] == "archive/data.pkl"
        assert list(pickletools.genops(archive.read("archive/data.pkl")))[-1][0].name == "STOP"
