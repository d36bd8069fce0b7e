"""The safetensors header reader against files the safetensors library wrote, and hostile headers."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from cairn.signals.models.safetensors_header import MAX_HEADER, SafetensorsError, header_length, parse


def library_file(metadata: dict[str, str] | None) -> bytes:
    st = pytest.importorskip("safetensors.numpy", reason="pip install safetensors")
    rng = np.random.default_rng(3)
    tensors = {
        "lora_unet_mid_block_attentions_0_proj_in.lora_down.weight": rng.standard_normal((4, 1280)).astype(np.float16),
        "lora_unet_mid_block_attentions_0_proj_in.lora_up.weight": rng.standard_normal((1280, 4)).astype(np.float16),
        "lora_unet_mid_block_attentions_0_proj_in.alpha": np.array(2.0, dtype=np.float32),
    }
    return bytes(st.save(tensors, metadata=metadata))


def test_reads_what_the_library_wrote(tmp_path) -> None:
    tags = {"5_bicycles": {"bicycle": 9, "beach": 4}}
    data = library_file({"ss_output_name": "bike", "ss_tag_frequency": json.dumps(tags), "ss_network_dim": "4"})
    header = parse(data, len(data))
    safe_open = pytest.importorskip("safetensors").safe_open
    path = tmp_path / "x.safetensors"
    path.write_bytes(data)
    with safe_open(str(path), "np") as f:
        assert header.metadata == f.metadata()
        expected = {k: (str(f.get_slice(k).get_dtype()), tuple(f.get_slice(k).get_shape())) for k in f.keys()}  # noqa: SIM118 - safe_open is not iterable
    assert {n: (d, s) for n, d, s in header.tensors} == expected
    assert header.decoded["ss_tag_frequency"] == tags
    assert header.tensor_count == 3 and header.warnings == []
    assert 8 + header.header_length + header.data_length == len(data)


def test_a_file_without_metadata() -> None:
    data = library_file(None)
    header = parse(data, len(data))
    assert header.metadata == {} and header.tensor_count == 3


def craft(header: bytes, body: bytes = b"") -> bytes:
    return struct.pack("<Q", len(header)) + header + body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (struct.pack("<Q", 2**40) + b"{}", "not a safetensors header"),
        (struct.pack("<Q", 5000) + b'{"a": 1}', "truncated"),
        (craft(b"[" * 5000 + b"]" * 5000), "not a safetensors header"),
        (craft(b'{"a":' + b"[" * 100 + b"]" * 100 + b"}"), "nested"),
        (craft(b'{"a": 1,'), "not JSON"),
        (craft(b'{"\xff": 1}'), "UTF-8"),
    ],
)
def test_hostile_headers_are_errors(data: bytes, message: str) -> None:
    with pytest.raises(SafetensorsError, match=message):
        parse(data, len(data))


def test_lying_offsets_and_bad_entries_are_warnings() -> None:
    header = json.dumps(
        {
            "a": {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 8]},
            "b": {"dtype": "F16", "shape": [2], "data_offsets": [4, 4000]},
            "c": {"dtype": "F16", "shape": "big", "data_offsets": [0, 1]},
            "__metadata__": {"k": 5},
        }
    ).encode()
    data = craft(header, b"\0" * 8)
    parsed = parse(data, len(data))
    text = " ".join(parsed.warnings)
    assert "past the data" in text and "shape is not a list" in text and "overlap" in text and "not a string" in text


def test_header_length_bounds() -> None:
    assert header_length(craft(b'{"a":1}')) == 7
    assert header_length(struct.pack("<Q", MAX_HEADER + 1) + b"{") is None
    assert header_length(b"\x89PNG\r\n\x1a\n\0\0\0") is None


def test_every_dtype_the_library_writes_is_known() -> None:
    # safetensors >= 0.6 writes these (torch float8_e8m0fnu, float4_e2m1fn_x2, complex64 ...); an unknown
    # name is still kept, marked
    sizes = {"F8_E8M0": 1, "F8_E4M3FNUZ": 1, "F8_E5M2FNUZ": 1, "F6_E2M3": 1, "F6_E3M2": 1, "F4": 1, "C64": 8, "Q9": 1}
    entries, at = {}, 0
    for i, (dtype, size) in enumerate(sizes.items()):
        entries[f"t{i}"] = {"dtype": dtype, "shape": [2], "data_offsets": [at, at + 2 * size]}
        at += 2 * size
    data = craft(json.dumps(entries).encode(), b"\0" * at)
    header = parse(data, len(data))
    assert header.warnings == []
    assert [d for _, d, _ in header.tensors] == [*list(sizes)[:-1], "Q9?"]
