"""Bounded reader of a GGUF header (llama.cpp model files) from the first bytes of the file.

``read_gguf(prefix)`` reads magic, version, counts, the metadata key/values and the tensor infos from a
prefix (the scan hands at most 64 MiB of files that may be tens of GB) and never touches tensor data.
Every length and count is checked against the bytes present and against fixed limits: long arrays keep
their first ``MAX_ARRAY_ITEMS`` items and their true length (a tokenizer vocabulary of 200k strings is
walked, not materialised), long strings are cut. Layout (versions 1-3, little- or big-endian) follows
the GGUF specification in the ggml repository (docs/gguf.md).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "GGML_TYPE_NAMES",
    "GgufArray",
    "GgufError",
    "GgufInfo",
    "ggml_type_name",
    "is_gguf",
    "read_gguf",
]

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (1, 2, 3)

#: Items kept of each array (its true length stays in ``GgufArray.total``).
MAX_ARRAY_ITEMS = 64
#: Characters kept of each string value.
MAX_STRING_CHARS = 4096
#: Nesting depth of arrays of arrays (depth 1 is a plain array).
MAX_ARRAY_DEPTH = 4
#: Above these the header is taken as hostile or corrupt (an error), not read.
MAX_KV_COUNT = 1 << 16
MAX_TENSOR_COUNT = 1 << 20
MAX_ARRAY_LENGTH = 1 << 32
MAX_STRING_BYTES = 1 << 30
MAX_KEY_BYTES = 65535
MAX_DIMS = 8
#: Work bounds over the whole header: strings jumped over in arrays, arrays walked inside arrays.
MAX_SKIPPED_STRINGS = 1 << 22
MAX_NESTED_ARRAYS = 1 << 16
#: Tensor infos kept in ``GgufInfo.tensors``; the rest are read (to find the header's end) but not kept.
MAX_TENSORS_KEPT = 4096
DEFAULT_ALIGNMENT = 32
MAX_DUPLICATES_LISTED = 10

#: ggml tensor type ids -> names (ggml.h ``enum ggml_type``; 4, 5, 31-33, 36-38 are retired ids).
GGML_TYPE_NAMES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 4: "Q4_2", 5: "Q4_3", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0",
    9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS",
    17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS",
    24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16", 31: "Q4_0_4_4",
    32: "Q4_0_4_8", 33: "Q4_0_8_8", 34: "TQ1_0", 35: "TQ2_0", 36: "IQ4_NL_4_4", 37: "IQ4_NL_4_8",
    38: "IQ4_NL_8_8", 39: "MXFP4", 40: "NVFP4", 41: "Q1_0",
}  # fmt: skip

# GGUF metadata value types: id -> (name, struct code or None for string/array).
_VALUE_TYPES: dict[int, tuple[str, str | None]] = {
    0: ("uint8", "B"), 1: ("int8", "b"), 2: ("uint16", "H"), 3: ("int16", "h"), 4: ("uint32", "I"),
    5: ("int32", "i"), 6: ("float32", "f"), 7: ("bool", "?"), 8: ("string", None), 9: ("array", None),
    10: ("uint64", "Q"), 11: ("int64", "q"), 12: ("float64", "d"),
}  # fmt: skip
_STRING = 8
_ARRAY = 9


class GgufError(ValueError):
    """The bytes are not a GGUF file, or its fixed header (magic, version, counts) cannot be read."""


class GgufArray(list[Any]):
    """A metadata array: the first ``MAX_ARRAY_ITEMS`` items, its true length and its item type name."""

    def __init__(self, items: list[Any], total: int, item_type: str) -> None:
        super().__init__(items)
        self.total = total
        self.item_type = item_type

    @property
    def cut(self) -> bool:
        """True when only the first items were kept."""
        return self.total > len(self)

    def __repr__(self) -> str:
        more = f", ... ({self.total} items)" if self.cut else ""
        return f"GgufArray[{self.item_type}]({list.__repr__(self)}{more})"


@dataclass
class GgufInfo:
    """What the prefix told: header, metadata, tensor infos (dims in GGUF/ggml order, innermost first)."""

    version: int
    byte_order: str  # 'little' or 'big'
    tensor_count: int
    kv_count: int
    metadata: dict[str, Any] = field(default_factory=dict)
    tensors: list[tuple[str, tuple[int, ...], str]] = field(default_factory=list)
    complete: bool = False  # False when the prefix ended (or an error stopped) before all tensor infos were read
    errors: list[str] = field(default_factory=list)
    #: Where the tensor data starts (end of the tensor infos, aligned); None unless complete.
    data_offset: int | None = None


def ggml_type_name(type_id: int) -> str:
    """The ggml name of a tensor type id, ``type<N>`` for ids this module does not know."""
    return GGML_TYPE_NAMES.get(type_id, f"type{type_id}")


def _version_and_order(head: bytes | memoryview) -> tuple[int, str] | None:
    if len(head) < 8 or bytes(head[:4]) != MAGIC:
        return None
    little = int.from_bytes(head[4:8], "little")
    if little in SUPPORTED_VERSIONS:
        return little, "little"
    big = int.from_bytes(head[4:8], "big")
    if big in SUPPORTED_VERSIONS:
        return big, "big"
    return None


def is_gguf(head: bytes) -> bool:
    """True when ``head`` (at least its first 8 bytes) is a GGUF magic and a known version, either byte order."""
    return _version_and_order(head) is not None


class _Truncated(Exception):
    """The prefix ended inside the header."""


class _Bad(Exception):
    """A length, count or type that is out of bounds or unknown; reading cannot go on."""


class _Cursor:
    def __init__(self, buf: memoryview, pos: int, order: str, version: int) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf)
        self.prefix = "<" if order == "little" else ">"
        self.wide = version >= 2  # v1 wrote counts and lengths as uint32
        self.count_size = 8 if self.wide else 4
        self.strings_skipped = 0
        self.nested_arrays = 0
        self._u64 = struct.Struct(self.prefix + "Q")
        self._u32 = struct.Struct(self.prefix + "I")

    def need(self, n: int) -> None:
        if n > self.end - self.pos:
            raise _Truncated

    def unpack(self, code: str) -> Any:
        s = struct.Struct(self.prefix + code)
        self.need(s.size)
        (value,) = s.unpack_from(self.buf, self.pos)
        self.pos += s.size
        return value

    def u32(self) -> int:
        self.need(4)
        (value,) = self._u32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return int(value)

    def u64(self) -> int:
        self.need(8)
        (value,) = self._u64.unpack_from(self.buf, self.pos)
        self.pos += 8
        return int(value)

    def count(self) -> int:
        """A count or length: uint64 from version 2 on, uint32 in version 1."""
        return self.u64() if self.wide else self.u32()

    def string(self, what: str, limit: int = MAX_STRING_BYTES, keep: int = MAX_STRING_CHARS) -> str:
        n = self.count()
        if n > limit:
            raise _Bad(f"{what}: string length {n} is over the limit {limit}")
        self.need(n)
        raw = bytes(self.buf[self.pos : self.pos + min(n, 4 * keep)])
        self.pos += n
        return raw.decode("utf-8", "replace")[:keep]


def _value_type(cur: _Cursor, what: str) -> int:
    type_id = cur.u32()
    if type_id not in _VALUE_TYPES:
        raise _Bad(f"{what}: unknown value type {type_id}")
    return type_id


def _read_value(cur: _Cursor, type_id: int, what: str, depth: int = 0) -> Any:
    if type_id == _STRING:
        return cur.string(what)
    if type_id == _ARRAY:
        return _read_array(cur, what, depth + 1)
    value = cur.unpack(_VALUE_TYPES[type_id][1] or "")
    return bool(value) if type_id == 7 else value


def _read_array(cur: _Cursor, what: str, depth: int) -> GgufArray:
    if depth > MAX_ARRAY_DEPTH:
        raise _Bad(f"{what}: arrays nested deeper than {MAX_ARRAY_DEPTH}")
    if depth > 1:
        cur.nested_arrays += 1
        if cur.nested_arrays > MAX_NESTED_ARRAYS:
            raise _Bad(f"{what}: more than {MAX_NESTED_ARRAYS} arrays inside arrays")
    item_type = _value_type(cur, what)
    n = cur.count()
    if n > MAX_ARRAY_LENGTH:
        raise _Bad(f"{what}: array length {n} is over the limit {MAX_ARRAY_LENGTH}")
    name, code = _VALUE_TYPES[item_type]
    kept = min(n, MAX_ARRAY_ITEMS)
    if code is not None:  # fixed-size items: read the kept ones, jump over the rest
        size = struct.calcsize(code)
        cur.need(n * size)
        items = list(struct.unpack_from(f"{cur.prefix}{kept}{code}", cur.buf, cur.pos))
        cur.pos += n * size
        return GgufArray(items, n, name)
    items = [_read_value(cur, item_type, what, depth) for _ in range(kept)]
    rest = n - kept
    # each string is at least its length field, each array its type and length fields
    cur.need(rest * (cur.count_size if item_type == _STRING else 4 + cur.count_size))
    if item_type == _STRING:
        _skip_strings(cur, rest, what)
    else:  # arrays of arrays: walked (bounded by depth and by the prefix), nothing kept
        for _ in range(rest):
            _read_array(cur, what, depth + 1)
    return GgufArray(items, n, name)


def _skip_strings(cur: _Cursor, n: int, what: str) -> None:
    """Jump over ``n`` strings (a tokenizer vocabulary): one length read each, no bytes copied."""
    cur.strings_skipped += n
    if cur.strings_skipped > MAX_SKIPPED_STRINGS:
        raise _Bad(f"{what}: more than {MAX_SKIPPED_STRINGS} strings in arrays")
    length_field = cur._u64 if cur.wide else cur._u32
    width, buf, end, pos = cur.count_size, cur.buf, cur.end, cur.pos
    for _ in range(n):
        if pos + width > end:
            raise _Truncated
        (length,) = length_field.unpack_from(buf, pos)
        if length > MAX_STRING_BYTES:
            raise _Bad(f"{what}: string length {length} is over the limit {MAX_STRING_BYTES}")
        pos += width + length
    if pos > end:
        raise _Truncated
    cur.pos = pos


def _read_kvs(cur: _Cursor, info: GgufInfo) -> None:
    duplicates = 0
    for index in range(info.kv_count):
        key = cur.string(f"key #{index}", limit=MAX_KEY_BYTES)
        type_id = _value_type(cur, key)
        value = _read_value(cur, type_id, key)
        if key not in info.metadata:
            info.metadata[key] = value
            continue
        duplicates += 1
        if duplicates <= MAX_DUPLICATES_LISTED:
            info.errors.append(f"duplicate key {key!r}: the first value is kept")
        elif duplicates == MAX_DUPLICATES_LISTED + 1:
            info.errors.append("more duplicate keys not listed")


def _read_tensor_infos(cur: _Cursor, info: GgufInfo) -> None:
    for index in range(info.tensor_count):
        name = cur.string(f"tensor #{index} name", limit=MAX_KEY_BYTES, keep=1024)
        n_dims = cur.u32()
        if n_dims > MAX_DIMS:
            raise _Bad(f"tensor {name!r}: {n_dims} dimensions (limit {MAX_DIMS})")
        shape = tuple(cur.count() for _ in range(n_dims))
        type_id = cur.u32()
        cur.u64()  # offset of the tensor's data, relative to the data section
        if index < MAX_TENSORS_KEPT:
            info.tensors.append((name, shape, ggml_type_name(type_id)))


def _alignment(info: GgufInfo) -> int:
    value = info.metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0 and value & (value - 1) == 0:
        return value
    info.errors.append(f"general.alignment {value!r} is not a power of two; {DEFAULT_ALIGNMENT} assumed")
    return DEFAULT_ALIGNMENT


def read_gguf(prefix: bytes | memoryview, file_size: int | None = None) -> GgufInfo:
    """Read the GGUF header from the first bytes of a file.

    Raises ``GgufError`` only when the bytes are not GGUF (magic, known version) or too short for the fixed
    header; a prefix that ends early gives ``complete=False``, an out-of-bounds length, count or type stops
    reading with a message in ``errors``. With ``file_size`` (the whole file's size) an end of the file
    inside the header is reported as an error too.
    """
    buf = memoryview(prefix).cast("B")
    found = _version_and_order(buf)
    if found is None:
        if len(buf) < 8:
            raise GgufError(f"{len(buf)} bytes: too short for a GGUF magic and version")
        if bytes(buf[:4]) != MAGIC:
            raise GgufError(f"not GGUF: magic {bytes(buf[:4])!r}")
        raise GgufError(f"unsupported GGUF version field {bytes(buf[4:8]).hex()}")
    version, order = found
    cur = _Cursor(buf, 8, order, version)
    try:
        tensor_count, kv_count = cur.count(), cur.count()
    except _Truncated:
        raise GgufError(f"{len(buf)} bytes: too short for the GGUF v{version} header counts") from None
    info = GgufInfo(version=version, byte_order=order, tensor_count=tensor_count, kv_count=kv_count)
    try:
        if kv_count > MAX_KV_COUNT:
            raise _Bad(f"metadata count {kv_count} is over the limit {MAX_KV_COUNT}")
        _read_kvs(cur, info)
        if tensor_count > MAX_TENSOR_COUNT:
            raise _Bad(f"tensor count {tensor_count} is over the limit {MAX_TENSOR_COUNT}")
        _read_tensor_infos(cur, info)
    except _Truncated:
        if file_size is not None and len(buf) >= file_size:
            info.errors.append(f"the file ends inside the header (at byte {len(buf)})")
        return info
    except _Bad as exc:
        info.errors.append(str(exc))
        return info
    info.complete = True
    align = _alignment(info)
    info.data_offset = -(-cur.pos // align) * align
    return info
