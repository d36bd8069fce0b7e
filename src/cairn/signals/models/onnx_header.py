"""Bounded reader of an ONNX model's metadata and graph outline from the first bytes of the file.

An ONNX file is one protobuf ``ModelProto`` (onnx/onnx.proto). ``read_onnx`` walks its wire format with a
small bounded walker - varint, 64-bit, length-delimited and 32-bit fields; groups are rejected - and reads
the model's header fields, opset imports, metadata properties and, from the graph, its name, inputs,
outputs, node count, op types and initializer count. Initializers (the weights) and node attributes are
jumped over by their lengths, never read; nothing is loaded or run. Descent follows the schema (at most
six messages deep), every length is checked against its message and the prefix, and the number of fields
walked is capped.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple

__all__ = ["ELEM_TYPE_NAMES", "OnnxError", "OnnxInfo", "OnnxValue", "looks_like_onnx", "read_onnx"]

#: ``ir_version`` values taken as ONNX when sniffing (IR 1 is 2017's; onnx 1.23 writes IR 14).
MIN_IR_VERSION, MAX_IR_VERSION = 1, 20
#: Characters kept of names and of doc strings.
MAX_NAME_CHARS = 1024
MAX_DOC_CHARS = 4096
#: Items kept of each list (the counts go on).
MAX_VALUES = 1024
MAX_DIMS = 64
MAX_OP_TYPES = 1024
MAX_OPSETS = 256
MAX_METADATA = 1024
#: A length-delimited field longer than protobuf's 2 GiB message limit is malformed.
MAX_LENGTH = (1 << 31) - 1
#: Fields walked in all, over every level (about 1.5 s of Python): past it reading stops with an error.
MAX_FIELDS = 1 << 20
#: Nodes looked into for their op type; later nodes are counted only (with a note in ``errors``).
MAX_NODES_READ = 1 << 17
#: Messages kept in ``errors`` (then one line saying more were dropped).
MAX_ERRORS = 100

#: TensorProto.DataType ids -> names (onnx.proto).
ELEM_TYPE_NAMES: dict[int, str] = {
    0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64",
    8: "STRING", 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 14: "COMPLEX64",
    15: "COMPLEX128", 16: "BFLOAT16", 17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2",
    20: "FLOAT8E5M2FNUZ", 21: "UINT4", 22: "INT4", 23: "FLOAT4E2M1", 24: "FLOAT8E8M0", 25: "UINT2",
    26: "INT2", 27: "FLOAT6E2M3", 28: "FLOAT6E3M2",
}  # fmt: skip

_VARINT, _I64, _LEN, _GROUP_START, _GROUP_END, _I32 = 0, 1, 2, 3, 4, 5
_WIRE_NAMES = {0: "varint", 1: "64-bit", 2: "length-delimited", 3: "group start", 4: "group end", 5: "32-bit"}


class OnnxError(ValueError):
    """The bytes do not start as an ONNX ModelProto (field 1, ``ir_version``, as a varint)."""


class OnnxValue(NamedTuple):
    """A graph input or output: name, element type name (None unless a tensor type) and shape.

    Shape dims are ints (``dim_value``), strings (``dim_param``, symbolic) or None (unknown); the shape
    is None when the type gives none.
    """

    name: str
    elem_type: str | None
    shape: tuple[int | str | None, ...] | None


@dataclass
class OnnxInfo:
    """What the prefix told about the model; counts are of items read in full."""

    ir_version: int = 0
    producer_name: str = ""
    producer_version: str = ""
    domain: str = ""
    model_version: int = 0
    doc_string: str = ""
    opset_import: list[tuple[str, int]] = field(default_factory=list)  # (domain, version); '' is ai.onnx
    metadata_props: dict[str, str] = field(default_factory=dict)
    graph_name: str = ""
    inputs: list[OnnxValue] = field(default_factory=list)
    outputs: list[OnnxValue] = field(default_factory=list)
    node_count: int = 0
    op_types: list[str] = field(default_factory=list)  # distinct op types of the graph's nodes, sorted
    initializer_count: int = 0
    complete: bool = False  # the walk reached the end of the model (or of the prefix, see read_onnx)
    errors: list[str] = field(default_factory=list)


class _Cut(Exception):
    """The prefix ended inside a message."""


class _Malformed(Exception):
    """Bytes that break the wire format or a bound (the message they are in is skipped)."""


class _Exhausted(Exception):
    """``MAX_FIELDS`` fields walked: reading stops."""


def _elem_name(type_id: int) -> str:
    return ELEM_TYPE_NAMES.get(type_id, f"type{type_id}")


def _int64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


class _Span(NamedTuple):
    start: int
    end: int  # clipped to the prefix
    cut: bool  # the message's declared end lies past the prefix


class _Field(NamedTuple):
    number: int
    wire: int
    value: int  # varint and fixed fields
    span: _Span  # length-delimited fields


_NO_SPAN = _Span(0, 0, False)


class _Walker:
    """Wire-format walker over one buffer; counts every field against ``MAX_FIELDS``."""

    def __init__(self, buf: memoryview) -> None:
        self.buf = buf
        self.walked = 0

    def varint(self, pos: int, span: _Span) -> tuple[int, int]:
        buf, result = self.buf, 0
        for shift in range(0, 70, 7):
            if pos >= span.end:
                self._past_end(span)
            byte = buf[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result & 0xFFFFFFFFFFFFFFFF, pos
        raise _Malformed("varint longer than 10 bytes")

    @staticmethod
    def _past_end(span: _Span) -> None:
        if span.cut:
            raise _Cut
        raise _Malformed("field runs past the end of its message")

    def walk(self, span: _Span, open_end: bool = False) -> Iterator[_Field]:
        """The fields of one message; a length-delimited field cut by the prefix is yielded, then _Cut.

        ``open_end``: the message ends where the prefix does, as far as is known (the top level of a file
        of unknown size): reading past it is a cut, ending there between fields is not.
        """
        buf, pos, end = self.buf, span.start, span.end
        while pos < end:
            self.walked += 1
            if self.walked > MAX_FIELDS:
                raise _Exhausted(f"more than {MAX_FIELDS} protobuf fields walked; reading stopped")
            tag = buf[pos]  # one-byte tags and lengths (the common case) are read inline
            if tag < 0x80:
                pos += 1
            else:
                tag, pos = self.varint(pos, span)
            number, wire = tag >> 3, tag & 7
            if number == 0:
                raise _Malformed("field number 0")
            if wire == _LEN:
                if pos < end and buf[pos] < 0x80:
                    length = buf[pos]
                    pos += 1
                else:
                    length, pos = self.varint(pos, span)
                    if length > MAX_LENGTH:
                        raise _Malformed(f"field {number}: length {length} over protobuf's 2 GiB limit")
                if pos + length > end:
                    if not span.cut:
                        raise _Malformed(f"field {number}: length {length} runs past the end of its message")
                    yield _Field(number, wire, length, _Span(pos, end, True))
                    raise _Cut
                yield _Field(number, wire, length, _Span(pos, pos + length, False))
                pos += length
            elif wire == _VARINT:
                value, pos = self.varint(pos, span)
                yield _Field(number, wire, value, _NO_SPAN)
            elif wire in (_I64, _I32):
                size = 8 if wire == _I64 else 4
                if pos + size > end:
                    self._past_end(span)
                value = int.from_bytes(buf[pos : pos + size], "little")
                pos += size
                yield _Field(number, wire, value, _NO_SPAN)
            elif wire in (_GROUP_START, _GROUP_END):
                raise _Malformed(f"field {number}: group wire type (not used by ONNX)")
            else:
                raise _Malformed(f"field {number}: invalid wire type {wire}")
        if span.cut and not open_end:
            raise _Cut

    def text(self, span: _Span, limit: int) -> str:
        raw = bytes(self.buf[span.start : min(span.end, span.start + 4 * limit)])
        return raw.decode("utf-8", "replace")[:limit]


class _Reader:
    def __init__(self, buf: memoryview, info: OnnxInfo) -> None:
        self.w = _Walker(buf)
        self.info = info
        self.op_types: set[str] = set()

    def error(self, message: str) -> None:
        errors = self.info.errors
        if len(errors) < MAX_ERRORS:
            errors.append(message)
        elif len(errors) == MAX_ERRORS:
            errors.append("more errors not listed")

    def fields(self, span: _Span, where: str, expect: dict[int, int], open_end: bool = False) -> Iterator[_Field]:
        """Fields of a message whose number is in ``expect`` with the expected wire type (others skipped)."""
        for f in self.w.walk(span, open_end):
            want = expect.get(f.number)
            if want is None:
                continue
            if f.wire != want:
                self.error(f"{where} field {f.number}: wire type {_WIRE_NAMES[f.wire]}, expected {_WIRE_NAMES[want]}")
                continue
            yield f

    def sub(self, where: str, read: Callable[[_Span], None], span: _Span) -> bool:
        """Read a nested message; a malformed one is reported and skipped (its length is known)."""
        try:
            read(span)
        except _Malformed as exc:
            self.error(f"{where}: {exc}")
            return False
        return True

    def model(self, span: _Span) -> None:
        info, w = self.info, self.w
        expect = {1: _VARINT, 2: _LEN, 3: _LEN, 4: _LEN, 5: _VARINT, 6: _LEN, 7: _LEN, 8: _LEN, 14: _LEN}
        for f in self.fields(span, "ModelProto", expect, open_end=True):
            if f.number == 1:
                info.ir_version = _int64(f.value)
            elif f.number == 5:
                info.model_version = _int64(f.value)
            elif f.number == 7:
                self.sub("graph", self.graph, f.span)
            elif f.span.cut:
                continue  # a string or small message cut by the prefix: nothing whole to keep
            elif f.number == 2:
                info.producer_name = w.text(f.span, MAX_NAME_CHARS)
            elif f.number == 3:
                info.producer_version = w.text(f.span, MAX_NAME_CHARS)
            elif f.number == 4:
                info.domain = w.text(f.span, MAX_NAME_CHARS)
            elif f.number == 6:
                info.doc_string = w.text(f.span, MAX_DOC_CHARS)
            elif f.number == 8:
                self.sub("opset_import", self.opset, f.span)
            elif f.number == 14:
                self.sub("metadata_props", self.metadata_prop, f.span)

    def opset(self, span: _Span) -> None:
        domain, version = "", 0
        for f in self.fields(span, "opset_import", {1: _LEN, 2: _VARINT}):
            if f.number == 1:
                domain = self.w.text(f.span, MAX_NAME_CHARS)
            else:
                version = _int64(f.value)
        if len(self.info.opset_import) < MAX_OPSETS:
            self.info.opset_import.append((domain, version))

    def metadata_prop(self, span: _Span) -> None:
        key, value = "", ""
        for f in self.fields(span, "metadata_props", {1: _LEN, 2: _LEN}):
            if f.number == 1:
                key = self.w.text(f.span, MAX_NAME_CHARS)
            else:
                value = self.w.text(f.span, MAX_DOC_CHARS)
        if len(self.info.metadata_props) < MAX_METADATA:
            self.info.metadata_props[key] = value

    def graph(self, span: _Span) -> None:
        info = self.info
        try:
            for f in self.fields(span, "graph", {1: _LEN, 2: _LEN, 5: _LEN, 11: _LEN, 12: _LEN}):
                if f.number == 5:  # an initializer: a TensorProto holding weights, jumped over
                    if not f.span.cut:
                        info.initializer_count += 1
                elif f.span.cut:
                    continue
                elif f.number == 1:
                    if info.node_count >= MAX_NODES_READ:
                        if info.node_count == MAX_NODES_READ:
                            self.error(f"op types are those of the first {MAX_NODES_READ} nodes")
                        info.node_count += 1
                    elif self.sub("graph.node", self.node, f.span):
                        info.node_count += 1
                elif f.number == 2:
                    info.graph_name = self.w.text(f.span, MAX_NAME_CHARS)
                else:
                    values = info.inputs if f.number == 11 else info.outputs
                    where = "graph.input" if f.number == 11 else "graph.output"
                    self.sub(where, partial(self.value_info, values=values), f.span)
        finally:
            info.op_types = sorted(self.op_types)

    def node(self, span: _Span) -> None:
        op_type = ""
        for f in self.fields(span, "node", {4: _LEN}):
            op_type = self.w.text(f.span, MAX_NAME_CHARS)
        if op_type and len(self.op_types) < MAX_OP_TYPES:
            self.op_types.add(op_type)

    def value_info(self, span: _Span, values: list[OnnxValue]) -> None:
        name, elem_type, shape = "", None, None
        for f in self.fields(span, "ValueInfoProto", {1: _LEN, 2: _LEN}):
            if f.number == 1:
                name = self.w.text(f.span, MAX_NAME_CHARS)
            else:
                for t in self.fields(f.span, "TypeProto", {1: _LEN}):  # tensor_type; other kinds left out
                    elem_type, shape = self.tensor_type(t.span)
        if len(values) < MAX_VALUES:
            values.append(OnnxValue(name, elem_type, shape))

    def tensor_type(self, span: _Span) -> tuple[str | None, tuple[int | str | None, ...] | None]:
        elem_type: str | None = None
        shape: tuple[int | str | None, ...] | None = None
        for f in self.fields(span, "TypeProto.Tensor", {1: _VARINT, 2: _LEN}):
            if f.number == 1:
                elem_type = _elem_name(_int64(f.value))
            else:
                shape = self.shape(f.span)
        return elem_type, shape

    def shape(self, span: _Span) -> tuple[int | str | None, ...]:
        dims: list[int | str | None] = []
        for f in self.fields(span, "TensorShapeProto", {1: _LEN}):
            if len(dims) >= MAX_DIMS:
                raise _Malformed(f"more than {MAX_DIMS} dimensions")
            dim: int | str | None = None
            for d in self.fields(f.span, "Dimension", {1: _VARINT, 2: _LEN}):
                dim = _int64(d.value) if d.number == 1 else self.w.text(d.span, MAX_NAME_CHARS)
            dims.append(dim)
        return tuple(dims)


def read_onnx(prefix: bytes | memoryview, file_size: int | None = None) -> OnnxInfo:
    """Read an ONNX ModelProto's metadata and graph outline from the first bytes of the file.

    Raises ``OnnxError`` only when the bytes do not start with ``ir_version`` (field 1, varint), as every
    serialized ModelProto does. Malformed parts and exceeded bounds are reported in ``errors``; a prefix that
    ends inside the model gives ``complete=False``. Without ``file_size`` a prefix that ends exactly between
    two top-level fields reads as complete; with it, complete also needs the prefix to be the whole file.
    """
    buf = memoryview(prefix).cast("B")
    if len(buf) < 2 or buf[0] != 0x08:
        raise OnnxError("not an ONNX ModelProto: it does not start with ir_version (field 1, varint)")
    whole = file_size is not None and len(buf) >= file_size
    info = OnnxInfo()
    reader = _Reader(buf, info)
    try:
        reader.model(_Span(0, len(buf), cut=not whole))
    except _Cut:
        return info
    except _Malformed as exc:
        reader.error(f"ModelProto: {exc}")
        return info
    except _Exhausted as exc:
        reader.error(str(exc))
        return info
    info.complete = file_size is None or whole
    return info


# --- content sniffing ---------------------------------------------------------------------------------------

# ModelProto fields after ir_version, as serializers write them (field-number order): wire type, repeated.
_MODEL_FIELDS: dict[int, tuple[int, bool]] = {
    2: (_LEN, False), 3: (_LEN, False), 4: (_LEN, False), 5: (_VARINT, False), 6: (_LEN, False),
    7: (_LEN, False), 8: (_LEN, True), 14: (_LEN, True), 20: (_LEN, True), 25: (_LEN, True), 26: (_LEN, True),
}  # fmt: skip
# The field numbers that may open each nested message (all of them length-delimited but opset's version).
_FIRST_FIELDS: dict[int, dict[int, int]] = {
    7: {n: _LEN for n in (1, 2, 5, 10, 11, 12, 13, 14, 15, 16)},  # GraphProto
    8: {1: _LEN, 2: _VARINT},  # OperatorSetIdProto
    14: {1: _LEN, 2: _LEN},  # StringStringEntryProto
}
_SHORT_TEXT = (2, 3, 4)  # producer_name, producer_version, domain
MAX_SNIFF_FIELDS = 8


def _printable(raw: bytes, final: bool, allow_lines: bool) -> bool:
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(raw, final=final)
    except UnicodeDecodeError:
        return False
    if allow_lines:
        text = text.replace("\n", " ").replace("\r", " ").replace("\t", " ")
    return text.isprintable()


def looks_like_onnx(head: bytes) -> bool:
    """Whether the first bytes of a file read as an ONNX ModelProto: ``ir_version`` first, in 1..20, and the
    following fields (up to ``MAX_SNIFF_FIELDS`` of them) in serialization order with the wire types,
    text and nested first fields ModelProto gives them. At least one field after ``ir_version`` is needed.
    """
    buf = memoryview(head).cast("B")
    if len(buf) < 4 or buf[0] != 0x08 or not MIN_IR_VERSION <= buf[1] <= MAX_IR_VERSION:
        return False
    walker = _Walker(buf)
    span = _Span(0, len(buf), cut=True)
    last, checked = 1, 0
    try:
        for index, f in enumerate(walker.walk(span)):
            if index == 0:
                continue  # ir_version, checked above
            if index > MAX_SNIFF_FIELDS:
                break
            spec = _MODEL_FIELDS.get(f.number)
            if spec is None or f.wire != spec[0] or f.number < last or (f.number == last and not spec[1]):
                return False
            last = f.number
            if f.wire == _LEN and not _plausible_content(buf, f):
                return False
            checked += 1
            if f.span.cut:
                break
    except _Cut:
        pass
    except (_Malformed, _Exhausted):
        return False
    return checked >= 1


def _plausible_content(buf: memoryview, f: _Field) -> bool:
    raw = bytes(buf[f.span.start : f.span.end])
    if f.number in _SHORT_TEXT:
        return f.value <= MAX_NAME_CHARS and _printable(raw, final=not f.span.cut, allow_lines=False)
    if f.number == 6:  # doc_string: text, possibly cut by the head
        return _printable(raw[:MAX_DOC_CHARS], final=not f.span.cut and f.value <= MAX_DOC_CHARS, allow_lines=True)
    first = _FIRST_FIELDS.get(f.number)
    if first is None or f.value == 0:
        return True  # an empty message, or one (training_info, functions) not looked into
    walker = _Walker(buf)
    try:
        opening = next(walker.walk(f.span), None)
    except _Cut:
        return True  # the head ends inside its first tag: nothing against it
    except _Malformed:
        return False
    return opening is None or first.get(opening.number) == opening.wire
