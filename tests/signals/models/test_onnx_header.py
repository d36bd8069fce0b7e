"""ONNX header reader: models the ``onnx`` package builds, cross-checked with ``onnx.load``; hand-built
wire bytes for cut prefixes and hostile lengths, varints, wire types and nesting; content sniffing."""

from __future__ import annotations

import gzip
import io
import json
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from cairn.signals.models import onnx_header as oh
from cairn.signals.models.onnx_header import OnnxError, OnnxValue, looks_like_onnx, read_onnx

# --- a tiny protobuf encoder for hand-built messages ----------------------------------------------------------


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def tag(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def vi(number: int, value: int) -> bytes:
    return tag(number, 0) + varint(value)


def ld(number: int, payload: bytes | str) -> bytes:
    raw = payload.encode() if isinstance(payload, str) else payload
    return tag(number, 2) + varint(len(raw)) + raw


def value_info(name: str, elem_type: int, dims: list[int | str | None]) -> bytes:
    shape = b"".join(
        ld(1, b"" if d is None else vi(1, d) if isinstance(d, int) else ld(2, d)) for d in dims
    )  # TensorShapeProto.dim
    return ld(1, name) + ld(2, ld(1, vi(1, elem_type) + ld(2, shape)))


def hand_model(weights: int = 100, graph_extra: bytes = b"") -> bytes:
    """ir_version 8, producer 'hand', a graph of two nodes, one initializer of ``weights`` bytes, opset 13."""
    initializer = vi(1, weights // 4) + vi(2, 1) + ld(8, "w") + ld(9, bytes(weights))  # dims, FLOAT, name, raw
    graph = (
        ld(1, ld(1, "x") + ld(1, "w") + ld(2, "y") + ld(4, "Add"))
        + ld(1, ld(1, "y") + ld(2, "z") + ld(4, "Relu"))
        + ld(2, "hand_graph")
        + ld(5, initializer)
        + graph_extra
        + ld(11, value_info("x", 1, ["batch", 25]))
        + ld(12, value_info("z", 1, ["batch", None]))
    )
    return (
        vi(1, 8)
        + ld(2, "hand")
        + ld(3, "1.0")
        + ld(4, "org.example")
        + vi(5, 3)
        + ld(6, "a red bicycle on a beach")
        + ld(7, graph)
        + ld(8, vi(2, 13))
        + ld(14, ld(1, "purpose") + ld(2, "shapes"))
    )


# --- hand-built bytes ------------------------------------------------------------------------------------------


def test_hand_built_model() -> None:
    data = hand_model()
    info = read_onnx(data, file_size=len(data))
    assert info.complete and info.errors == []
    assert (info.ir_version, info.producer_name, info.producer_version) == (8, "hand", "1.0")
    assert (info.domain, info.model_version, info.doc_string) == ("org.example", 3, "a red bicycle on a beach")
    assert info.opset_import == [("", 13)]
    assert info.metadata_props == {"purpose": "shapes"}
    assert info.graph_name == "hand_graph"
    assert info.inputs == [OnnxValue("x", "FLOAT", ("batch", 25))]
    assert info.outputs == [OnnxValue("z", "FLOAT", ("batch", None))]
    assert (info.node_count, info.op_types, info.initializer_count) == (2, ["Add", "Relu"], 1)
    assert looks_like_onnx(data[:32])


def test_every_cut_prefix() -> None:
    data = hand_model()
    full = read_onnx(data)
    with pytest.raises(OnnxError):
        read_onnx(data[:1])
    for cut in range(2, len(data)):
        info = read_onnx(data[:cut], file_size=len(data))
        assert not info.complete and info.errors == [], cut
        for name in ("producer_name", "producer_version", "domain", "doc_string", "graph_name"):
            assert getattr(info, name) in ("", getattr(full, name)), (cut, name)
        assert full.inputs[: len(info.inputs)] == info.inputs
        assert info.node_count <= full.node_count and set(info.op_types) <= set(full.op_types)
    # without the file's size, a cut between top-level fields cannot be told from the end
    assert read_onnx(data[: data.index(ld(8, vi(2, 13)))]).complete


def test_weights_are_jumped_over_not_read() -> None:
    data = hand_model(weights=8 << 20)
    graph_at = data.index(b"hand_graph")
    cut = graph_at + 4096  # inside the initializer's raw data
    info = read_onnx(data[:cut])
    assert not info.complete and info.errors == []
    assert info.graph_name == "hand_graph" and info.node_count == 2 and info.initializer_count == 0
    assert info.inputs == [] and info.opset_import == []  # written after the weights
    full = read_onnx(data)
    assert full.initializer_count == 1 and full.inputs[0].name == "x"


def test_lengths_past_the_end() -> None:
    claims_more = vi(1, 8) + ld(2, "hand") + tag(7, 2) + varint(10_000) + ld(1, ld(4, "Add")) + ld(2, "g")
    info = read_onnx(claims_more)  # size unknown: a prefix cut inside the graph
    assert not info.complete and info.errors == [] and info.producer_name == "hand"
    assert info.node_count == 1 and info.graph_name == "g"
    info = read_onnx(claims_more, file_size=len(claims_more))  # the whole file: the length lies
    assert not info.complete and "runs past the end" in info.errors[0]
    # inside a message whose end is known, an overlong field is malformed: that node is skipped
    bad_node = tag(1, 2) + varint(6) + tag(4, 2) + varint(50) + b"Add!"
    graph = bad_node + ld(1, ld(4, "Relu")) + ld(2, "g")
    info = read_onnx(vi(1, 8) + ld(7, graph) + ld(8, vi(2, 13)))
    assert info.complete and info.node_count == 1 and info.op_types == ["Relu"] and info.graph_name == "g"
    assert info.opset_import == [("", 13)]
    assert info.errors == ["graph.node: field 4: length 50 runs past the end of its message"]
    huge = vi(1, 8) + tag(6, 2) + varint(1 << 40) + b"abc"
    assert "2 GiB" in read_onnx(huge).errors[0]


def test_bad_varints_wire_types_and_field_numbers() -> None:
    head = vi(1, 8) + ld(2, "hand")
    eleven = head + tag(5, 0) + b"\xff" * 10 + b"\x01"
    assert read_onnx(eleven).errors == ["ModelProto: varint longer than 10 bytes"]
    assert read_onnx(head + tag(5, 0) + b"\xff" * 9 + b"\x01").errors == []  # ten bytes: a valid varint
    assert "group" in read_onnx(head + tag(9, 3) + tag(9, 4)).errors[0]
    assert "invalid wire type 6" in read_onnx(head + tag(9, 6) + b"\x00").errors[0]
    assert "field number 0" in read_onnx(head + b"\x02\x00").errors[0]
    # a known field with the wrong wire type is reported and skipped
    info = read_onnx(vi(1, 8) + vi(2, 5) + ld(3, "1.0"))
    assert info.complete and info.producer_version == "1.0" and info.producer_name == ""
    assert info.errors == ["ModelProto field 2: wire type varint, expected length-delimited"]
    # fixed-width fields are stepped over
    info = read_onnx(vi(1, 8) + tag(30, 1) + bytes(8) + tag(31, 5) + bytes(4) + ld(2, "hand"))
    assert info.complete and info.producer_name == "hand"
    assert read_onnx(vi(1, (1 << 64) - 1)).ir_version == -1  # int64, as protobuf reads it
    for not_onnx in (b"", b"\x08", b"\x0a\x04hand", b"\x89PNG\r\n\x1a\n"):
        with pytest.raises(OnnxError):
            read_onnx(not_onnx)


def test_deep_nesting_is_jumped_over() -> None:
    nested = b""
    for _ in range(5000):  # far past Python's recursion limit if anything recursed into it
        nested = ld(1, nested)
    node = ld(4, "If") + ld(5, nested)  # an attribute holding a deep message
    vtype = ld(1, "seq") + ld(2, ld(4, nested))  # a sequence type: not a tensor, not looked into
    graph = ld(1, node) + ld(11, vtype) + ld(13, nested)
    info = read_onnx(vi(1, 8) + ld(7, graph) + ld(20, nested))
    assert info.complete and info.errors == []
    assert info.op_types == ["If"] and info.inputs == [OnnxValue("seq", None, None)]
    many_dims = ld(11, value_info("x", 1, list(range(oh.MAX_DIMS + 1))))
    info = read_onnx(vi(1, 8) + ld(7, many_dims + ld(12, value_info("y", 7, [1]))))
    assert info.errors == [f"graph.input: more than {oh.MAX_DIMS} dimensions"]
    assert info.inputs == [] and info.outputs == [OnnxValue("y", "INT64", (1,))]


def test_work_and_errors_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oh, "MAX_FIELDS", 1000)
    many_nodes = vi(1, 8) + ld(7, ld(1, ld(4, "Add")) * 2000)
    info = read_onnx(many_nodes)
    assert not info.complete and info.node_count < 1000 and "fields walked" in info.errors[-1]
    monkeypatch.setattr(oh, "MAX_FIELDS", 1 << 20)
    monkeypatch.setattr(oh, "MAX_NODES_READ", 10)
    later_ops = vi(1, 8) + ld(7, ld(1, ld(4, "Add")) * 10 + ld(1, ld(4, "Relu")) * 5)
    info = read_onnx(later_ops)
    assert info.complete and info.node_count == 15 and info.op_types == ["Add"]
    assert info.errors == ["op types are those of the first 10 nodes"]
    wrong = vi(1, 8) + vi(2, 1) * 500
    info = read_onnx(wrong)
    assert info.complete and len(info.errors) == oh.MAX_ERRORS + 1 and info.errors[-1] == "more errors not listed"


def test_random_bytes_are_not_onnx_and_never_crash() -> None:
    rng = np.random.default_rng(20)
    for _ in range(3000):
        head = rng.integers(0, 256, size=int(rng.integers(4, 512)), dtype=np.uint8).tobytes()
        assert not looks_like_onnx(head)
        if head[0] != 0x08:
            with pytest.raises(OnnxError):
                read_onnx(head)
        else:
            assert not read_onnx(head, file_size=len(head)).complete or len(head) < 4
    # even behind a valid ir_version, random bytes are seldom taken
    taken = sum(
        looks_like_onnx(b"\x08\x07" + rng.integers(0, 256, size=256, dtype=np.uint8).tobytes()) for _ in range(3000)
    )
    assert taken <= 3
    # and random mutations of a real model read without crashing
    data = hand_model()
    for _ in range(500):
        mutated = bytearray(data)
        for pos in rng.integers(2, len(data), size=3):
            mutated[pos] = int(rng.integers(0, 256))
        info = read_onnx(bytes(mutated))
        assert info.node_count <= len(data)


def _heads_of_other_formats() -> dict[str, bytes]:
    png = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(png, format="PNG")
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as zf:
        zf.writestr("model/data.pkl", b"\x80\x02}q\x00.")
    gguf_head = b"GGUF" + struct.pack("<IQQ", 3, 0, 0)
    saved_model = vi(1, 1) + ld(2, ld(1, ld(1, "serve") + ld(2, "2.15.0")))  # SavedModel: version, MetaGraphDef
    tensor = vi(1, 3) + vi(1, 4) + vi(2, 1) + ld(8, "w") + ld(9, bytes(48))  # a TensorProto
    return {
        "png": png.getvalue(),
        "zip": zbuf.getvalue(),
        "json": json.dumps({"_class_name": "Pipeline", "tags": ["bicycle", "beach"]}).encode(),
        "gzip": gzip.compress(b"a red bicycle on a beach" * 20),
        "pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        "gguf": gguf_head,
        "saved_model": saved_model,
        "tensor_proto": tensor,
        "graph_proto": ld(1, ld(4, "Add")) + ld(2, "g"),
        "text": b"\x08\x07 plain text after a tab and a bell",
    }


@pytest.mark.parametrize("name", sorted(_heads_of_other_formats()))
def test_other_formats_are_not_onnx(name: str) -> None:
    assert not looks_like_onnx(_heads_of_other_formats()[name])


def test_sniffing_onnx_heads() -> None:
    data = hand_model()
    assert all(looks_like_onnx(data[:n]) for n in range(6, len(data)))  # 6: ir_version, producer_name's tag
    assert not looks_like_onnx(data[:2])  # ir_version alone is too little
    assert looks_like_onnx(vi(1, 9) + ld(7, ld(1, ld(4, "Add"))))  # no producer: the graph follows
    assert looks_like_onnx(vi(1, 9) + tag(7, 2) + varint(1 << 20) + ld(1, ld(4, "Add")))  # graph cut by the head
    assert not looks_like_onnx(vi(1, 9) + ld(7, vi(1, 3)))  # a graph that opens with a varint
    assert not looks_like_onnx(vi(1, 9) + ld(3, "1.0") + ld(2, "hand"))  # out of serialization order
    assert not looks_like_onnx(vi(1, 9) + ld(2, "hand") + ld(2, "again"))  # producer_name twice
    assert not looks_like_onnx(vi(1, 21) + ld(2, "hand"))  # ir_version out of range
    assert not looks_like_onnx(vi(1, 9) + ld(2, b"\x01\x02\x03"))  # producer_name not text
    assert not looks_like_onnx(vi(1, 9) + ld(2, "x" * 2000))  # producer_name too long to be one
    assert looks_like_onnx(vi(1, 9) + ld(6, "line one\nline two\tand more") + ld(8, vi(2, 13)))
    assert looks_like_onnx(vi(1, 9) + ld(8, ld(1, "ai.onnx.ml") + vi(2, 3)) + ld(8, vi(2, 17)))


# --- models the onnx package writes, cross-checked with onnx.load ---------------------------------------------


def _dims(value: Any) -> tuple[int | str | None, ...] | None:
    if not value.type.HasField("tensor_type") or not value.type.tensor_type.HasField("shape"):
        return None
    out: list[int | str | None] = []
    for d in value.type.tensor_type.shape.dim:
        out.append(d.dim_value if d.HasField("dim_value") else d.dim_param if d.HasField("dim_param") else None)
    return tuple(out)


def _elem(onnx: Any, value: Any) -> str | None:
    if not value.type.HasField("tensor_type"):
        return None
    return str(onnx.TensorProto.DataType.Name(value.type.tensor_type.elem_type))


def _tiny_model(onnx: Any, weights: int = 8) -> Any:
    helper, tp = onnx.helper, onnx.TensorProto
    image = helper.make_tensor_value_info("image", tp.FLOAT, ["batch", 3, 16, 16])
    scale = helper.make_tensor_value_info("scale", tp.FLOAT16, [])  # a scalar: shape with no dims
    mask = helper.make_tensor_value_info("mask", tp.BOOL, None)  # no shape at all
    words = helper.make_value_info(
        "words", helper.make_sequence_type_proto(helper.make_tensor_type_proto(tp.STRING, None))
    )
    label = helper.make_tensor_value_info("label", tp.INT64, ["batch"])
    feats = helper.make_tensor_value_info("features", tp.BFLOAT16, ["batch", None])
    feats.type.tensor_type.shape.dim[1].Clear()  # an unknown dimension: neither value nor name
    rng = np.random.default_rng(1)
    conv_w = onnx.numpy_helper.from_array(rng.standard_normal((weights, 3, 3, 3)).astype(np.float32), "conv.weight")
    conv_b = onnx.numpy_helper.from_array(np.zeros(weights, dtype=np.float32), "conv.bias")
    nodes = [
        helper.make_node("Conv", ["image", "conv.weight", "conv.bias"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["features_f"]),
        helper.make_node("Cast", ["features_f"], ["features"], to=tp.BFLOAT16),
        helper.make_node("ArgMax", ["features_f"], ["label"], axis=1, keepdims=0),
        helper.make_node("Relu", ["features_f"], ["unused"]),
    ]
    graph = helper.make_graph(nodes, "tiny_shapes_classifier", [image, scale, mask, words], [label, feats],
                              [conv_w, conv_b])  # fmt: skip
    model = helper.make_model(
        graph,
        producer_name="cairn-test",
        producer_version="0.1",
        domain="org.example.shapes",
        model_version=4,
        doc_string="classifies a red bicycle on a beach" + " and shapes" * 500,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)],
    )
    helper.set_model_props(model, {"purpose": "shapes", "author": "test suite"})
    return model


def _check_against(onnx: Any, info: oh.OnnxInfo, model: Any) -> None:
    g = model.graph
    assert info.ir_version == model.ir_version and info.ir_version >= 1
    assert (info.producer_name, info.producer_version) == (model.producer_name, model.producer_version)
    assert (info.domain, info.model_version) == (model.domain, model.model_version)
    assert info.doc_string == model.doc_string[: oh.MAX_DOC_CHARS]
    assert info.opset_import == [(o.domain, o.version) for o in model.opset_import]
    assert info.metadata_props == {p.key: p.value for p in model.metadata_props}
    assert info.graph_name == g.name
    assert info.inputs == [OnnxValue(v.name, _elem(onnx, v), _dims(v)) for v in g.input]
    assert info.outputs == [OnnxValue(v.name, _elem(onnx, v), _dims(v)) for v in g.output]
    assert info.node_count == len(g.node)
    assert info.op_types == sorted({n.op_type for n in g.node})
    assert info.initializer_count == len(g.initializer)


def test_matches_onnx_load(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx", reason="pip install onnx")
    path = tmp_path / "tiny.onnx"
    onnx.save(_tiny_model(onnx), str(path))
    data = path.read_bytes()
    loaded = onnx.load(str(path))
    info = read_onnx(data, file_size=len(data))
    assert info.complete and info.errors == []
    _check_against(onnx, info, loaded)
    assert info.inputs[1] == OnnxValue("scale", "FLOAT16", ())
    assert info.inputs[2] == OnnxValue("mask", "BOOL", None)
    assert info.inputs[3] == OnnxValue("words", None, None)
    assert info.outputs[1] == OnnxValue("features", "BFLOAT16", ("batch", None))
    assert len(info.doc_string) == oh.MAX_DOC_CHARS < len(loaded.doc_string)
    assert looks_like_onnx(data[:64]) and looks_like_onnx(data[:4096])


def test_prefix_of_an_onnx_file_with_weights(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx", reason="pip install onnx")
    model = _tiny_model(onnx, weights=20000)  # about 2 MiB of weights
    data = model.SerializeToString()
    full = read_onnx(data)
    _check_against(onnx, full, model)
    weights_at = data.index(b"conv.weight", data.index(b"tiny_shapes_classifier"))
    info = read_onnx(data[: weights_at + 100_000])
    assert not info.complete and info.errors == []
    assert info.producer_name == "cairn-test" and info.graph_name == "tiny_shapes_classifier"
    assert info.node_count == 7 and info.op_types == full.op_types
    assert info.inputs == [] and info.opset_import == []  # serialized after the initializers
    assert looks_like_onnx(data[:64])


def test_other_onnx_messages_are_not_models() -> None:
    onnx = pytest.importorskip("onnx", reason="pip install onnx")
    model = _tiny_model(onnx)
    assert looks_like_onnx(model.SerializeToString()[:256])
    for message in (model.graph, model.graph.node[0], model.graph.initializer[0], model.graph.input[0],
                    model.opset_import[0], model.metadata_props[0]):  # fmt: skip
        assert not looks_like_onnx(message.SerializeToString()[:256]), type(message).__name__
