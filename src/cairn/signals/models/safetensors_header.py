"""The safetensors header: 8 bytes of little-endian length ``N``, then ``N`` bytes of JSON naming each tensor's
dtype, shape and byte range, and an optional ``__metadata__`` object of strings (kohya ``ss_*`` training
metadata, ``modelspec.*``).

Bounded: a header longer than :data:`MAX_HEADER` is an error, not an allocation; the JSON's nesting is checked
before it is parsed; metadata strings are cut; JSON-valued training keys (``ss_tag_frequency``,
``ss_dataset_dirs``, ...) are decoded within the same limits, and a bad one is a warning.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from cairn.signals.provenance.limits import ProvenanceLimits, TooDeep, load_json

#: Longest header read (real ones: kilobytes for checkpoints, up to a few MiB for LoRAs with tag lists).
MAX_HEADER = 100 * 1024 * 1024
#: Characters kept of one metadata value (longer values are cut, with a warning).
MAX_VALUE = 1024 * 1024
#: Tensors listed (the count is always kept).
MAX_TENSORS = 200_000
#: Metadata keys whose values are JSON text (kohya sd-scripts).
JSON_KEYS = (
    "ss_tag_frequency",
    "ss_dataset_dirs",
    "ss_bucket_info",
    "ss_datasets",
    "ss_network_args",
    "ss_reg_dataset_dirs",
)
DTYPES = {
    "F64",
    "F32",
    "F16",
    "BF16",
    "I64",
    "I32",
    "I16",
    "I8",
    "U64",
    "U32",
    "U16",
    "U8",
    "BOOL",
    "F8_E4M3",
    "F8_E5M2",
    "F8_E8M0",
    "F8_E4M3FNUZ",
    "F8_E5M2FNUZ",
    "F6_E2M3",
    "F6_E3M2",
    "F4",
    "C64",
}
"""The dtypes the safetensors library writes (its ``Dtype`` enum); another is kept with a ``?`` after it."""
LIMITS = ProvenanceLimits(max_text=MAX_HEADER, max_json_depth=32)


class SafetensorsError(ValueError):
    """Not a readable safetensors header."""


@dataclass
class SafetensorsHeader:
    """What the header says: tensors (name, dtype, shape, [begin, end) in the data), metadata, problems."""

    header_length: int
    tensor_count: int = 0
    tensors: list[tuple[str, str, tuple[int, ...]]] = field(default_factory=list)
    data_length: int = 0  # end of the last tensor's bytes, from the offsets
    metadata: dict[str, str] = field(default_factory=dict)
    decoded: dict[str, Any] = field(default_factory=dict)  # JSON_KEYS values, parsed
    warnings: list[str] = field(default_factory=list)

    @property
    def tensor_offset(self) -> int:
        """Where the tensor data starts in the file (``8 + N``)."""
        return 8 + self.header_length


def header_length(head: bytes) -> int | None:
    """``N`` when ``head`` starts like a safetensors file (length within bounds, JSON object next), else None."""
    if len(head) < 10:
        return None
    (n,) = struct.unpack_from("<Q", head)
    if n < 2 or n > MAX_HEADER:
        return None
    first = head[8 : 8 + min(n, 64)].lstrip(b" \t\r\n")
    return n if first[:1] == b"{" and (len(first) < 2 or first[1:2] in b'"} \t\r\n') else None


def parse(data: bytes, file_size: int | None = None) -> SafetensorsHeader:
    """Parse the header at the start of ``data`` (which holds at least ``8 + N`` bytes). ``SafetensorsError`` when
    it is not a safetensors header at all; problems within one are warnings."""
    n = header_length(data)
    if n is None:
        raise SafetensorsError("not a safetensors header (length or first byte wrong)")
    if len(data) < 8 + n:
        raise SafetensorsError(f"header of {n:,} bytes, only {max(len(data) - 8, 0):,} present (truncated file)")
    try:
        text = data[8 : 8 + n].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SafetensorsError(f"header is not UTF-8: {exc}") from exc
    try:
        parsed = load_json(text.rstrip(" "), LIMITS)
    except TooDeep as exc:
        raise SafetensorsError(f"header JSON: {exc}") from exc
    except ValueError as exc:
        raise SafetensorsError(f"header is not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise SafetensorsError("header JSON is not an object")
    out = SafetensorsHeader(header_length=n)
    meta = parsed.pop("__metadata__", None)
    if meta is not None:
        _metadata(meta, out)
    _tensors(parsed, out, file_size)
    return out


def _metadata(meta: Any, out: SafetensorsHeader) -> None:
    if not isinstance(meta, dict):
        out.warnings.append("__metadata__ is not an object of strings: ignored")
        return
    for key, value in meta.items():
        if not isinstance(value, str):
            out.warnings.append(f"metadata {key!r} is not a string (the format allows strings only): kept as JSON")
            value = repr(value)[:MAX_VALUE]
        if len(value) > MAX_VALUE:
            out.warnings.append(f"metadata {key!r} cut from {len(value):,} to {MAX_VALUE:,} characters")
            value = value[:MAX_VALUE]
        out.metadata[str(key)] = value
        if key in JSON_KEYS and value not in ("", "None", "null"):
            try:
                out.decoded[key] = load_json(value, LIMITS)
            except ValueError as exc:
                out.warnings.append(f"metadata {key!r} is not readable JSON: {exc}")


def _tensors(entries: dict[str, Any], out: SafetensorsHeader, file_size: int | None) -> None:
    out.tensor_count = len(entries)
    data_size = None if file_size is None else file_size - out.tensor_offset
    spans: list[tuple[int, int]] = []
    bad = 0
    for name, info in entries.items():
        try:
            dtype, shape, begin, end = _tensor(info)
        except ValueError as exc:
            bad += 1
            if bad <= 16:
                out.warnings.append(f"tensor {name[:200]!r}: {exc}")
            continue
        if data_size is not None and end > data_size:
            bad += 1
            if bad <= 16:
                out.warnings.append(f"tensor {name[:200]!r} ends at {end:,}, past the data ({data_size:,} bytes)")
        spans.append((begin, end))
        if len(out.tensors) < MAX_TENSORS:
            out.tensors.append((name, dtype, shape))
    if bad > 16:
        out.warnings.append(f"{bad:,} tensors with problems in all (the first 16 are listed)")
    spans.sort()
    out.data_length = spans[-1][1] if spans else 0
    overlaps = sum(1 for (_, e0), (b1, _) in zip(spans, spans[1:], strict=False) if b1 < e0)
    if overlaps:
        out.warnings.append(f"{overlaps:,} tensors overlap others' bytes (not written by the safetensors library)")
    if data_size is not None and data_size > out.data_length:
        out.warnings.append(f"{data_size - out.data_length:,} bytes after the last tensor (appended data)")


def _tensor(info: Any) -> tuple[str, tuple[int, ...], int, int]:
    if not isinstance(info, dict):
        raise ValueError("entry is not an object")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if not isinstance(dtype, str):
        raise ValueError("no dtype")
    if dtype not in DTYPES:
        dtype = f"{dtype[:16]}?"
    if not isinstance(shape, list) or len(shape) > 16 or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ValueError("shape is not a list of sizes")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and o >= 0 for o in offsets)
        or offsets[1] < offsets[0]
    ):
        raise ValueError("data_offsets is not [begin, end]")
    return dtype, tuple(shape), offsets[0], offsets[1]
