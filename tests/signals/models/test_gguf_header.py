"""GGUF header reader: hand-built headers (every value type, v1-v3, both byte orders, cut and hostile
prefixes) and files the ``gguf`` package writes, cross-checked field by field with ``gguf.GGUFReader``."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cairn.signals.models import gguf_header as gh
from cairn.signals.models.gguf_header import GgufArray, GgufError, ggml_type_name, is_gguf, read_gguf

# --- a small GGUF encoder for hand-built headers (GGUF spec layout) -------------------------------------

_CODES = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


class Enc:
    def __init__(self, order: str = "<", version: int = 3) -> None:
        self.o = order
        self.version = version
        self.n = "Q" if version >= 2 else "I"

    def count(self, n: int) -> bytes:
        return struct.pack(self.o + self.n, n)

    def string(self, text: str | bytes) -> bytes:
        raw = text.encode() if isinstance(text, str) else text
        return self.count(len(raw)) + raw

    def value(self, type_id: int, value: Any) -> bytes:
        if type_id == 8:
            return self.string(value)
        if type_id == 9:
            item_type, items = value
            out = struct.pack(self.o + "I", item_type) + self.count(len(items))
            return out + b"".join(self.value(item_type, item) for item in items)
        return struct.pack(self.o + _CODES[type_id], value)

    def kv(self, key: str, type_id: int, value: Any) -> bytes:
        return self.string(key) + struct.pack(self.o + "I", type_id) + self.value(type_id, value)

    def tensor(self, name: str, dims: tuple[int, ...], type_id: int, offset: int) -> bytes:
        out = self.string(name) + struct.pack(self.o + "I", len(dims))
        out += b"".join(self.count(d) for d in dims)
        return out + struct.pack(self.o + "IQ", type_id, offset)

    def header(self, kvs: list[bytes], tensors: list[bytes], n_kv: int | None = None, n_t: int | None = None) -> bytes:
        head = b"GGUF" + struct.pack(self.o + "I", self.version)
        head += self.count(len(tensors) if n_t is None else n_t) + self.count(len(kvs) if n_kv is None else n_kv)
        return head + b"".join(kvs) + b"".join(tensors)


def _sample(enc: Enc) -> tuple[bytes, dict[str, Any]]:
    """A header with one key of every value type, nested arrays and four tensor infos; and the expected metadata."""
    meta: list[tuple[str, int, Any, Any]] = [
        ("general.architecture", 8, "llama", "llama"),
        ("general.name", 8, "tiny test model", "tiny test model"),
        ("test.u8", 0, 200, 200),
        ("test.i8", 1, -5, -5),
        ("test.u16", 2, 60000, 60000),
        ("test.i16", 3, -30000, -30000),
        ("test.u32", 4, 4_000_000_000, 4_000_000_000),
        ("test.i32", 5, -2_000_000_000, -2_000_000_000),
        ("test.f32", 6, 0.5, 0.5),
        ("test.bool", 7, True, True),
        ("test.u64", 10, 2**63 + 7, 2**63 + 7),
        ("test.i64", 11, -(2**62), -(2**62)),
        ("test.f64", 12, 3.25, 3.25),
        ("test.words", 9, (8, ["bicycle", "beach", "red"]), ["bicycle", "beach", "red"]),
        ("test.floats", 9, (6, [0.25, -1.5]), [0.25, -1.5]),
        ("test.nested", 9, (9, [(5, [1, 2]), (5, []), (5, [3])]), [[1, 2], [], [3]]),
        ("general.alignment", 4, 64, 64),
    ]
    kvs = [enc.kv(key, type_id, value) for key, type_id, value, _ in meta]
    tensors = [
        enc.tensor("token_embd.weight", (64, 100), 1, 0),
        enc.tensor("blk.0.attn_q.weight", (64, 64), 12, 12800),
        enc.tensor("output_norm.weight", (64,), 0, 20000),
        enc.tensor("odd.weight", (2, 3, 4, 5), 200, 30000),
    ]
    return enc.header(kvs, tensors), {key: want for key, _, _, want in meta}


# --- hand-built headers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("order", "version"), [("<", 3), ("<", 2), ("<", 1), (">", 3), (">", 2)])
def test_every_value_type_and_tensor_info(order: str, version: int) -> None:
    data, want = _sample(Enc(order, version))
    info = read_gguf(data)
    assert info.version == version
    assert info.byte_order == ("little" if order == "<" else "big")
    assert (info.tensor_count, info.kv_count) == (4, len(want))
    assert info.complete and info.errors == []
    assert info.metadata == want
    assert type(info.metadata["test.bool"]) is bool
    assert isinstance(info.metadata["test.nested"], GgufArray)
    assert info.metadata["test.nested"].item_type == "array"
    assert info.metadata["test.nested"][0].item_type == "int32"
    assert info.metadata["test.words"].total == 3 and not info.metadata["test.words"].cut
    assert info.tensors == [
        ("token_embd.weight", (64, 100), "F16"),
        ("blk.0.attn_q.weight", (64, 64), "Q4_K"),
        ("output_norm.weight", (64,), "F32"),
        ("odd.weight", (2, 3, 4, 5), "type200"),
    ]
    assert info.data_offset is not None and info.data_offset % 64 == 0
    assert 0 <= info.data_offset - len(data) < 64
    assert is_gguf(data[:8])


def test_long_arrays_and_strings_are_bounded() -> None:
    enc = Enc()
    vocab = [f"word{i}" for i in range(100_000)]
    scores = list(range(5000))
    template = "a red bicycle on a beach " * 1000
    data = enc.header(
        [
            enc.kv("tokenizer.ggml.tokens", 9, (8, vocab)),
            enc.kv("tokenizer.ggml.token_type", 9, (5, scores)),
            enc.kv("tokenizer.chat_template", 8, template),
            enc.kv("general.name", 8, "tiny test model"),
        ],
        [enc.tensor("w", (8,), 0, 0)],
    )
    info = read_gguf(data)
    assert info.complete and info.errors == []
    tokens = info.metadata["tokenizer.ggml.tokens"]
    assert tokens.total == 100_000 and tokens.cut and tokens == vocab[: gh.MAX_ARRAY_ITEMS]
    assert tokens.item_type == "string"
    types = info.metadata["tokenizer.ggml.token_type"]
    assert types.total == 5000 and types == scores[: gh.MAX_ARRAY_ITEMS]
    assert info.metadata["tokenizer.chat_template"] == template[: gh.MAX_STRING_CHARS]
    assert info.metadata["general.name"] == "tiny test model"
    assert info.tensors == [("w", (8,), "F32")]


def test_many_tensor_infos_are_read_but_only_some_kept() -> None:
    enc = Enc()
    n = gh.MAX_TENSORS_KEPT + 10
    data = enc.header([], [enc.tensor(f"t{i}", (4,), 0, 32 * i) for i in range(n)])
    info = read_gguf(data)
    assert info.complete and info.tensor_count == n
    assert len(info.tensors) == gh.MAX_TENSORS_KEPT and info.tensors[-1][0] == f"t{gh.MAX_TENSORS_KEPT - 1}"


def test_every_cut_prefix_reads_what_it_holds() -> None:
    data, want = _sample(Enc())
    seen_keys = 0
    for cut in range(24, len(data)):
        info = read_gguf(data[:cut])
        assert not info.complete and info.errors == [] and info.data_offset is None
        assert list(info.metadata) == list(want)[: len(info.metadata)]
        assert all(info.metadata[k] == want[k] for k in info.metadata)
        assert len(info.metadata) >= seen_keys
        seen_keys = len(info.metadata)
    assert seen_keys == len(want)
    # a prefix that is the whole file: ending inside the header is an error
    info = read_gguf(data[:100], file_size=100)
    assert not info.complete and "ends inside the header" in info.errors[0]


def test_not_gguf_or_unreadable_header_raises() -> None:
    data, _ = _sample(Enc())
    with pytest.raises(GgufError, match="too short"):
        read_gguf(b"GGUF")
    with pytest.raises(GgufError, match="magic"):
        read_gguf(b"\x89PNG\r\n\x1a\n" + bytes(64))
    with pytest.raises(GgufError, match="version"):
        read_gguf(b"GGUF" + struct.pack("<I", 4) + bytes(16))
    with pytest.raises(GgufError, match="counts"):
        read_gguf(data[:20])
    assert not is_gguf(b"GGUF")
    assert not is_gguf(b"GGUF" + struct.pack("<I", 0))
    assert not is_gguf(b"GGML" + struct.pack("<I", 3))
    assert is_gguf(b"GGUF" + struct.pack(">I", 3))


def _hostile(kvs: list[bytes], tensors: list[bytes] | None = None, **counts: int) -> gh.GgufInfo:
    info = read_gguf(Enc().header(kvs, tensors or [], **counts))
    assert not info.complete and info.data_offset is None
    return info


def test_hostile_counts_are_errors_not_loops() -> None:
    enc = Enc()
    info = _hostile([enc.kv("general.name", 8, "tiny test model")], n_t=2**63)
    assert info.tensor_count == 2**63 and "tensor count" in info.errors[0]
    assert info.metadata == {"general.name": "tiny test model"}
    info = _hostile([enc.kv("general.name", 8, "x")], n_kv=2**64 - 1)
    assert "metadata count" in info.errors[0] and info.metadata == {}


def test_hostile_lengths_types_and_nesting() -> None:
    enc = Enc()
    name = enc.kv("general.name", 8, "tiny test model")
    huge_string = enc.string("general.x") + struct.pack("<IQ", 8, 2**62) + b"abc"
    assert "string length" in _hostile([name, huge_string]).errors[0]
    # a length under the limit but past the prefix is a cut prefix, not an error
    past_end = enc.string("general.x") + struct.pack("<IQ", 8, 1000) + b"abc"
    info = _hostile([name, past_end])
    assert info.errors == [] and info.metadata == {"general.name": "tiny test model"}
    huge_key = struct.pack("<Q", 2**40) + b"k"
    assert "key #0" in _hostile([huge_key]).errors[0]
    huge_array = enc.string("general.x") + struct.pack("<IIQ", 9, 0, 2**40)
    assert "array length" in _hostile([huge_array]).errors[0]
    # a vocabulary that claims more strings than the prefix could hold stops at once
    long_vocab = enc.string("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 10**9) + enc.string("a")
    info = _hostile([long_vocab])
    assert info.errors == [] and info.metadata == {}
    unknown_type = enc.string("general.x") + struct.pack("<I", 13) + bytes(8)
    assert "unknown value type 13" in _hostile([unknown_type]).errors[0]
    unknown_item_type = enc.string("general.x") + struct.pack("<IIQ", 9, 99, 1)
    assert "unknown value type 99" in _hostile([unknown_item_type]).errors[0]
    deep: Any = (5, [1])
    for _ in range(gh.MAX_ARRAY_DEPTH):
        deep = (9, [deep])
    info = _hostile([name, enc.kv("general.deep", 9, deep)])
    assert "nested deeper" in info.errors[0] and "general.name" in info.metadata
    many_dims = enc.string("w") + struct.pack("<I", 2**32 - 1) + bytes(64)
    assert "dimensions" in _hostile([name], [many_dims]).errors[0]


def test_work_over_the_whole_header_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    enc = Enc()
    monkeypatch.setattr(gh, "MAX_SKIPPED_STRINGS", 1000)
    two_vocabs = [enc.kv("a", 9, (8, ["x"] * 600)), enc.kv("b", 9, (8, ["y"] * 600))]
    info = _hostile(two_vocabs)
    assert list(info.metadata) == ["a"] and "more than 1000 strings" in info.errors[0]
    monkeypatch.setattr(gh, "MAX_NESTED_ARRAYS", 100)
    empties = enc.kv("c", 9, (9, [(0, [])] * 101))
    assert "more than 100 arrays inside arrays" in _hostile([empties]).errors[0]


def test_duplicate_keys_and_bad_alignment_are_reported() -> None:
    enc = Enc()
    data = enc.header(
        [enc.kv("general.name", 8, "first"), enc.kv("general.name", 8, "second"), enc.kv("general.alignment", 4, 48)],
        [enc.tensor("w", (8,), 0, 0)],
    )
    info = read_gguf(data)
    assert info.complete and info.metadata["general.name"] == "first"
    assert any("duplicate key 'general.name'" in e for e in info.errors)
    assert any("alignment" in e for e in info.errors)
    assert info.data_offset is not None and info.data_offset % 32 == 0


def test_random_garbage_after_a_valid_start_never_crashes() -> None:
    rng = np.random.default_rng(13)
    data, _ = _sample(Enc())
    for _ in range(300):
        mutated = bytearray(data)
        for pos in rng.integers(24, len(data), size=4):
            mutated[pos] = int(rng.integers(0, 256))
        info = read_gguf(bytes(mutated))  # no exception: every bad length, count or type lands in errors
        assert len(info.metadata) <= info.kv_count and len(info.tensors) <= info.tensor_count
        assert info.complete == (info.data_offset is not None)


def test_type_names() -> None:
    assert [ggml_type_name(i) for i in (0, 1, 2, 8, 10, 15, 16, 24, 28, 30)] == [
        "F32", "F16", "Q4_0", "Q8_0", "Q2_K", "Q8_K", "IQ2_XXS", "I8", "F64", "BF16",
    ]  # fmt: skip
    assert ggml_type_name(1234) == "type1234"


# --- files written by the gguf package, cross-checked with its reader -----------------------------------


def _write_model(path: Path, big_endian: bool) -> None:
    gguf = pytest.importorskip("gguf", reason="pip install gguf")
    quant = gguf.GGMLQuantizationType
    endian = gguf.GGUFEndian.BIG if big_endian else gguf.GGUFEndian.LITTLE
    writer = gguf.GGUFWriter(str(path), "llama", endianess=endian)
    writer.add_name("tiny test model")
    writer.add_description("a red bicycle on a beach")
    writer.add_context_length(2048)
    writer.add_block_count(2)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(10000.0)
    writer.add_file_type(7)
    writer.add_uint8("test.u8", 7)
    writer.add_int8("test.i8", -7)
    writer.add_uint16("test.u16", 65535)
    writer.add_int16("test.i16", -2)
    writer.add_int32("test.i32", -123456)
    writer.add_uint64("test.u64", 2**40)
    writer.add_int64("test.i64", -(2**40))
    writer.add_float64("test.f64", 2.5)
    writer.add_bool("test.bool", False)
    writer.add_array("test.tags", ["bicycle", "beach", "red", "shape"])
    writer.add_tokenizer_model("llama")
    tokens = [f"tok{i}" for i in range(3000)]
    writer.add_token_list(tokens)
    writer.add_token_scores([float(-i) for i in range(3000)])
    writer.add_token_types([1] * 3000)
    writer.add_bos_token_id(1)
    rng = np.random.default_rng(5)
    weights = rng.standard_normal((4, 256)).astype(np.float32)
    writer.add_tensor("token_embd.weight", weights)
    writer.add_tensor("output_norm.weight", np.ones(256, dtype=np.float16))
    writer.add_tensor("blk.0.attn_q.weight", gguf.quants.quantize(weights, quant.Q8_0), raw_dtype=quant.Q8_0)
    writer.add_tensor("blk.0.ffn_gate.weight", gguf.quants.quantize(weights, quant.Q4_0), raw_dtype=quant.Q4_0)
    q4k_bytes = np.zeros(gguf.quants.quant_shape_to_byte_shape((4, 256), quant.Q4_K), dtype=np.uint8)
    writer.add_tensor("blk.0.ffn_up.weight", q4k_bytes, raw_dtype=quant.Q4_K)  # no Q4_K quantizer in gguf-py
    writer.add_tensor("blk.0.ffn_down.weight", gguf.quants.quantize(weights, quant.BF16), raw_dtype=quant.BF16)
    writer.add_tensor("pos.ids", np.arange(12, dtype=np.int32).reshape(3, 4))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


@pytest.mark.parametrize("big_endian", [False, True])
def test_matches_gguf_reader(tmp_path: Path, big_endian: bool) -> None:
    path = tmp_path / "tiny.gguf"
    _write_model(path, big_endian)
    gguf = pytest.importorskip("gguf", reason="pip install gguf")
    reader = gguf.GGUFReader(str(path))
    data = path.read_bytes()
    info = read_gguf(data, file_size=len(data))
    assert info.complete and info.errors == []
    assert info.byte_order == ("big" if big_endian else "little")
    assert info.version == _plain(reader.fields["GGUF.version"].contents()) == 3
    assert info.tensor_count == _plain(reader.fields["GGUF.tensor_count"].contents()) == 7
    assert info.kv_count == _plain(reader.fields["GGUF.kv_count"].contents())
    keys = [k for k in reader.fields if not k.startswith("GGUF.")]
    assert list(info.metadata) == keys
    for key in keys:
        rf = reader.fields[key]
        ours = info.metadata[key]
        theirs = rf.contents()
        if rf.types[0] == gguf.GGUFValueType.ARRAY:
            assert isinstance(ours, GgufArray)
            assert ours.total == len(rf.data), key
            assert ours.item_type == rf.types[1].name.lower(), key
            assert ours == [_plain(v) for v in theirs[: gh.MAX_ARRAY_ITEMS]], key
        else:
            assert ours == _plain(theirs), key
            assert type(ours) is type(_plain(theirs)), key
    assert info.metadata["general.architecture"] == "llama"
    assert info.metadata["general.name"] == "tiny test model"
    assert info.metadata["tokenizer.ggml.tokens"].total == 3000
    assert info.tensors == [(t.name, tuple(int(d) for d in t.shape), t.tensor_type.name) for t in reader.tensors]
    assert [t[2] for t in info.tensors] == ["F32", "F16", "Q8_0", "Q4_0", "Q4_K", "BF16", "I32"]
    assert info.data_offset == reader.data_offset


def test_version_2_file_matches_gguf_reader(tmp_path: Path) -> None:
    path = tmp_path / "v3.gguf"
    _write_model(path, big_endian=False)
    gguf = pytest.importorskip("gguf", reason="pip install gguf")
    data = bytearray(path.read_bytes())
    data[4:8] = struct.pack("<I", 2)  # v2 and v3 share the layout (v3 added big-endian files)
    (tmp_path / "v2.gguf").write_bytes(data)
    reader = gguf.GGUFReader(str(tmp_path / "v2.gguf"))
    info = read_gguf(bytes(data))
    assert info.version == 2 and info.complete
    assert info.tensors == [(t.name, tuple(int(d) for d in t.shape), t.tensor_type.name) for t in reader.tensors]


def test_prefix_of_a_real_file(tmp_path: Path) -> None:
    path = tmp_path / "tiny.gguf"
    _write_model(path, big_endian=False)
    data = path.read_bytes()
    full = read_gguf(data)
    vocab_at = data.index(b"tok1500")  # inside the token list
    info = read_gguf(memoryview(data)[:vocab_at])
    assert not info.complete and info.errors == []
    assert info.metadata["general.name"] == "tiny test model"
    assert "tokenizer.ggml.tokens" not in info.metadata and info.tensors == []
    assert all(full.metadata[k] == v for k, v in info.metadata.items())
    # a prefix holding the header but not the tensor data is complete
    assert full.data_offset is not None
    assert read_gguf(data[: full.data_offset]) == full
