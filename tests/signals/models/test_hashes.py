"""Every model hash kind, streamed in arbitrary chunks, against an independent computation over the whole file
(hashlib/binascii over slices, as A1111, kohya, SwarmUI and InvokeAI compute them) on the demo's model files."""

from __future__ import annotations

import binascii
import hashlib
import struct

import numpy as np
import pytest

from cairn.demo import ai_models
from cairn.signals.models.hashes import AUTOV1_LENGTH, AUTOV1_OFFSET, ModelHasher, blake3_available


def streamed(data: bytes, tensor_offset: int | None, seed: int) -> dict[str, str]:
    rng = np.random.default_rng(seed)
    hasher = ModelHasher(tensor_offset)
    hasher.own_sha256()
    at = 0
    while at < len(data):
        step = int(rng.integers(1, 300_000))
        hasher.update(data[at : at + step])
        at += step
    return hasher.result()


@pytest.mark.parametrize("suffix", sorted(ai_models.model_files()))
def test_every_kind_equals_an_independent_computation(suffix: str) -> None:
    data = ai_models.model_files()[suffix]
    n = struct.unpack_from("<Q", data)[0] if suffix.endswith(".safetensors") else None
    got = streamed(data, None if n is None else 8 + n, seed=len(data))
    full = hashlib.sha256(data).hexdigest()
    assert got["sha256"] == full
    assert got["autov2"] == full[:10] and got["sha256_12"] == full[:12]
    assert got["crc32"] == f"{binascii.crc32(data):08x}"
    if len(data) > AUTOV1_OFFSET:  # A1111's model_hash: seek(0x100000), read(0x10000)
        assert got["autov1"] == hashlib.sha256(data[AUTOV1_OFFSET : AUTOV1_OFFSET + AUTOV1_LENGTH]).hexdigest()[:8]
    else:
        assert "autov1" not in got
    if n is not None:  # A1111 addnet_hash_safetensors: seek(8 + n), hash to the end
        tensor = hashlib.sha256(data[8 + n :]).hexdigest()
        assert got["tensor_sha256"] == tensor and got["autov3"] == tensor[:12]
        assert ai_models.file_hash(suffix, "autov3") == tensor[:12]
    else:
        assert "autov3" not in got
    if blake3_available():
        import blake3

        assert got["blake3"] == blake3.blake3(data).hexdigest()


def test_chunking_never_changes_a_hash() -> None:
    data = ai_models.model_files()["stable-diffusion-webui/models/Stable-diffusion/v1-5-pruned-emaonly.ckpt"]
    assert len(data) > AUTOV1_OFFSET + AUTOV1_LENGTH
    results = [streamed(data, 1000, seed) for seed in range(5)]
    assert all(r == results[0] for r in results)
    whole = ModelHasher(1000)
    whole.own_sha256()
    whole.update(data)
    assert whole.result() == results[0]


def test_edited_metadata_keeps_autov3_and_changes_the_file_hash() -> None:
    files = ai_models.model_files()
    a = files["stable-diffusion-webui/models/Lora/beachStyle_v2.safetensors"]
    b = files["stable-diffusion-webui/models/Lora/beachStyle_v2_renamed.safetensors"]
    ha = streamed(a, 8 + struct.unpack_from("<Q", a)[0], 1)
    hb = streamed(b, 8 + struct.unpack_from("<Q", b)[0], 2)
    assert ha["autov3"] == hb["autov3"] and ha["tensor_sha256"] == hb["tensor_sha256"]
    assert ha["sha256"] != hb["sha256"] and ha["autov2"] != hb["autov2"]


def test_a_file_shorter_than_its_header_has_no_tensor_hash() -> None:
    hasher = ModelHasher(tensor_offset=10_000)
    hasher.update(b"x" * 5_000)
    assert "tensor_sha256" not in hasher.result("0" * 64)


def test_folder_hash_as_invokeai_computes_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A diffusers folder written to disk, hashed the way InvokeAI's ModelHash hashes a directory (os.walk, model
    extensions, sorted Paths, BLAKE3 of the concatenated hex digests), against cairn's folder hash."""
    blake3 = pytest.importorskip("blake3", reason="pip install blake3")
    import os
    from pathlib import Path

    from cairn.signals.models.hashes import FOLDER_MODEL_EXTENSIONS, folder_blake3

    folder = tmp_path / "model"
    for rel, data in ai_models.model_files().items():
        if rel.startswith(ai_models.DIFFUSERS_FOLDER + "/"):
            target = folder / rel[len(ai_models.DIFFUSERS_FOLDER) + 1 :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    (folder / "a-b").mkdir()  # a name that sorts differently as a string and as path parts
    (folder / "a-b" / "x.bin").write_bytes(b"not a model, still hashed by name")
    (folder / "a").mkdir()  # "a/y.pt" sorts before "a-b/x.bin" by parts, after it as a string
    (folder / "a" / "y.pt").write_bytes(b"another component")
    (folder / "unet" / "notes.txt").write_text("not hashed")
    found = [Path(r, f) for r, _, fs in os.walk(folder) for f in fs if f.endswith(FOLDER_MODEL_EXTENSIONS)]
    composite = blake3.blake3()
    for path in sorted(found):
        composite.update(blake3.blake3(path.read_bytes()).hexdigest().encode("utf-8"))
    parts = [(p.relative_to(folder).parts, blake3.blake3(p.read_bytes()).hexdigest()) for p in found]
    assert folder_blake3(parts) == composite.hexdigest()
    assert len(found) == 4
    by_string = blake3.blake3()
    for path in sorted(found, key=str):
        by_string.update(blake3.blake3(path.read_bytes()).hexdigest().encode("utf-8"))
    assert by_string.hexdigest() != composite.hexdigest()  # the order matters, and is InvokeAI's
