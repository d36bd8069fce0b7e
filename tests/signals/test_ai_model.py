"""The ai_model stream signal: detection by content, hashes into the item's hashes, one finding per model file,
hostile model files as recorded errors (hashed anyway), pickles flagged and never run."""

from __future__ import annotations

import hashlib
import json
import struct
import sys

import pytest

from cairn import errors
from cairn.demo import ai_models
from cairn.model import FileResult, ItemMeta, Locator
from cairn.settings import ScanSettings
from cairn.signals.ai_model import AiModelSignal, hash_claims
from cairn.signals.base import ItemContext
from cairn.signals.models import detect


def run(data: bytes, name: str = "file.bin", chunk: int = 4096) -> FileResult:
    result = FileResult(Locator((name,)), ItemMeta())
    result.hashes["sha256"] = hashlib.sha256(data).hexdigest()  # the digest signal's, as in a scan
    state = AiModelSignal().start(ScanSettings(), ItemContext(Locator((name,)), "data", "", len(data), data[:65536]))
    for at in range(0, len(data), chunk):
        state.update(data[at : at + chunk])
    state.finish(result)
    return result


def model(suffix: str) -> bytes:
    (data,) = [v for k, v in ai_models.model_files().items() if k.endswith(suffix)]
    return data


def test_kohya_lora_finding() -> None:
    result = run(model("Lora/beachStyle_v2.safetensors"), "renamed.jpg")  # by content, not by name
    (finding,) = result.findings
    data = finding.data
    assert (data["format"], data["kind"], data["family"]) == ("safetensors", "lora", "sd1")
    assert data["training"]["output_name"] == "beachStyle_v2"
    assert data["training"]["tags"]["bicycle"] == ai_models.PROMPT_TAGS["bicycle"]
    assert data["hash_claims"]["sshs_model_hash"]["matches_tensor_sha256"] is True
    assert result.hashes["autov3"] == ai_models.file_hash("Lora/beachStyle_v2.safetensors", "autov3")
    assert finding.where.startswith("header, bytes 8 to")
    json.dumps(data)  # storable as is


def test_claim_mismatch_is_reported() -> None:
    claims = hash_claims({"sshs_model_hash": "ab" * 32, "sshs_legacy_hash": "12345678"}, {"tensor_sha256": "cd" * 32})
    assert claims["sshs_model_hash"]["matches_tensor_sha256"] is False
    assert claims["sshs_legacy_hash"]["checked"] is False


@pytest.mark.parametrize(
    ("suffix", "fmt", "kind"),
    [
        ("sd_xl_offset_example-lora_1.0.safetensors", "safetensors", "lora"),  # no kohya metadata
        ("sandTexture.safetensors", "safetensors", "embedding"),
        ("vae-ft-mse-840000-ema-pruned.safetensors", "safetensors", "vae"),
        ("tiny-test-llm.gguf", "gguf", "llm"),
        ("model_index.json", "diffusers-index", "checkpoint"),
        ("tiny_classifier.onnx", "onnx", "other"),
    ],
)
def test_formats_and_kinds(suffix: str, fmt: str, kind: str) -> None:
    (finding,) = run(model(suffix)).findings
    assert (finding.data["format"], finding.data["kind"]) == (fmt, kind)


def test_other_items_are_ignored() -> None:
    for data in (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, b"hello world", b"", b"PK\x03\x04" + b"\0" * 60):
        result = run(data, "file.dat")
        assert result.findings == [] and set(result.hashes) == {"sha256"}
    named_like_a_model = run(b"hello world", "unet/diffusion_pytorch_model.bin")  # a folder model's component
    assert named_like_a_model.findings == [] and set(named_like_a_model.hashes) <= {"sha256", "blake3"}


@pytest.mark.parametrize(
    "data",
    [
        struct.pack("<Q", 300) + b'{"a": {"dtype": "F16", "shape": [1], "data_offsets": [0, 2]}',  # truncated header
        struct.pack("<Q", 12) + b'{"a": [[[[[[' + b"\0" * 100,  # broken JSON
        struct.pack("<Q", 4 + 2 * 70) + b'{"a":' + b"[" * 70 + b"]" * 70 + b"}",  # deep JSON
    ],
)
def test_hostile_safetensors_are_recorded_errors_and_still_hashed(data: bytes) -> None:
    result = run(data)
    assert [e.code for e in result.errors] == [errors.MODEL_UNREADABLE]
    assert result.hashes["crc32"] and result.findings[0].data["unreadable"]


def test_legacy_pickle_checkpoint_is_flagged_and_never_run(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("cairn.signals.models.pickles")
    before = set(sys.modules)
    result = run(model("v1-5-pruned-emaonly.ckpt"))
    (finding,) = result.findings
    assert finding.data["format"] == detect.PICKLE and finding.data["legacy_torch"] is True
    assert finding.data["kind"] == "checkpoint" and finding.data["family"] == "sd1"
    assert [e.code for e in result.errors] == [errors.PICKLE_IMPORTS]
    assert "builtins.print" in result.errors[0].message
    assert "autov1" in result.hashes  # over 1 MiB
    assert ai_models.HARMLESS_CALL not in capsys.readouterr().out  # print was never called
    assert not {m for m in set(sys.modules) - before if m.startswith(("torch", "builtins"))}


def test_zip_checkpoint() -> None:
    pytest.importorskip("cairn.signals.models.pickles")
    result = run(model("tiny_unet.pt"))
    (finding,) = result.findings
    assert finding.data["format"] == detect.TORCH_ZIP and finding.data["kind"] == "unet"
    assert finding.data["tensor_count"] == len(ai_models.UNET_TENSORS)
    assert not result.errors


def _memo_flood() -> bytes:
    """A protocol-4 pickle memoising 1.1 million lists (an unpickler's memory grows with each)."""
    return b"\x80\x04" + b"]\x94" * 1_100_000 + b"."


def test_pickle_bomb_and_truncated_checkpoints_are_recorded_errors() -> None:
    pytest.importorskip("cairn.signals.models.pickles")
    ckpt = model("v1-5-pruned-emaonly.ckpt")
    cut_zip = model("tiny_unet.pt")[:300]  # inside archive/data.pkl
    for data in (_memo_flood(), ckpt[:600], cut_zip):
        result = run(data)
        assert [e.code for e in result.errors][:1] == [errors.MODEL_UNREADABLE], data[:20]
        (finding,) = result.findings
        assert finding.data.get("partly_read") or finding.data.get("unreadable")
        assert result.hashes["crc32"]
