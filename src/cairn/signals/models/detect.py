"""Which model format a file is, from its first bytes (never its name): safetensors, a PyTorch zip checkpoint,
a pickle (legacy ``torch.save``: .ckpt/.pt/.bin/.pth), GGUF, ONNX, or a diffusers ``model_index.json``.

A pickle of protocol 2 or later starts with PROTO; one of protocol 0 or 1 has no magic at all (``torch.load``
unpickles any protocol, so a hand-made ``os.system`` pickle needs none): such a head is a pickle when the
opcode walker (never unpickling) reads it to STOP, or to the end of a head cut from a longer file, and it
imports at least one global named like a Python module and attribute.

Each format says how many of the file's first bytes its reader needs (:func:`capture_bytes`); the stream
signal keeps that much, never the file.
"""

from __future__ import annotations

import json
import re
import struct

from cairn.signals.models import safetensors_header
from cairn.signals.models.onnx_header import looks_like_onnx

SAFETENSORS = "safetensors"
TORCH_ZIP = "pytorch-zip"
PICKLE = "pickle"
GGUF = "gguf"
ONNX = "onnx"
DIFFUSERS = "diffusers-index"
FORMATS = (SAFETENSORS, TORCH_ZIP, PICKLE, GGUF, ONNX, DIFFUSERS)

#: Bytes kept of a pickle, zip checkpoint, GGUF or ONNX file for its reader: the pickle of a 7 GB checkpoint is
#: a few MiB, a GGUF header with an LLM's vocabulary some tens; what lies beyond is hashed, not read.
CAPTURE = 64 * 1024 * 1024
#: Longest model_index.json read.
MAX_INDEX = 1024 * 1024

#: The first pickle of a legacy ``torch.save`` file: protocol 2, LONG1 of the magic number 0x1950a86a20f9469cfc6c.
TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
_LEGACY_FRAMED = re.compile(rb"\x80[\x02-\x05](?:\x95.{8})?\x8a\x0a" + re.escape(TORCH_LEGACY_MAGIC[4:]), re.DOTALL)
_ZIP_LOCAL = b"PK\x03\x04"
_TORCH_MEMBER = re.compile(rb"^[^/]{1,255}/(data\.pkl|version|byteorder|\.format_version|\.data/)")


def detect(head: bytes, size: int | None = None) -> str | None:
    """The model format of a file starting with ``head`` (up to 64 KiB), or None."""
    if head[:4] == b"GGUF" or head[:4] == b"FUGG":
        return GGUF
    if safetensors_header.header_length(head) is not None:  # a header longer than the file: a truncated one
        return SAFETENSORS
    if head[:4] == _ZIP_LOCAL and _torch_zip(head):
        return TORCH_ZIP
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return PICKLE
    if head[:1] == b"{" and b'"_diffusers_version"' in head[:MAX_INDEX] and b'"_class_name"' in head[:MAX_INDEX]:
        return DIFFUSERS
    if looks_like_onnx(head):
        return ONNX
    if head[:1] in _OLD_PICKLE_FIRST and _old_protocol_pickle(head, size):
        return PICKLE
    return None


def is_torch_legacy(head: bytes) -> bool:
    """``head`` starts with the first pickle of a legacy ``torch.save`` file, the magic number, in any pickle
    protocol torch may be asked for (2 by default; 4 and 5 add a FRAME)."""
    return _LEGACY_FRAMED.match(head) is not None


def capture_bytes(fmt: str, head: bytes) -> int:
    """How many of the file's first bytes the reader of ``fmt`` needs."""
    if fmt == SAFETENSORS:
        n = safetensors_header.header_length(head)
        return 8 + (n or 0)
    if fmt == DIFFUSERS:
        return MAX_INDEX
    return CAPTURE


def _torch_zip(head: bytes) -> bool:
    """The first local file header names a PyTorch archive member (``<name>/data.pkl``, ``.../version``, ...)."""
    if len(head) < 30:
        return False
    name_length = struct.unpack_from("<H", head, 26)[0]
    return bool(_TORCH_MEMBER.match(head[30 : 30 + name_length]))


# opcodes a protocol 0 or 1 pickle may start with: MARK, GLOBAL, the strings, ints, floats and empty containers
# that a REDUCE, STACK_GLOBAL or INST can follow, and PROTO 0 or 1
_OLD_PICKLE_FIRST = frozenset(bytes([b]) for b in b"(cSVXUTIJKLMFGN]})\x80")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def _old_protocol_pickle(head: bytes, size: int | None) -> bool:
    """``head`` is a protocol 0 or 1 pickle that imports a global (see the module notes)."""
    from cairn.signals.models.pickles import PickleLimits, inspect_pickle

    if head[:1] == b"\x80" and head[1:2] not in (b"\x00", b"\x01"):
        return False
    report = inspect_pickle(head, limits=PickleLimits(max_ops=200_000, max_nested=0, max_nested_depth=0))
    if not any(_IDENTIFIER.fullmatch(i.module) and _IDENTIFIER.fullmatch(i.name) for i in report.imports):
        return False
    if report.complete:
        return True
    cut = size is None or size > len(head)
    return cut and any(e.startswith("truncated") for e in report.errors)


def diffusers_index(data: bytes) -> dict[str, object]:
    """The pipeline class, diffusers version and components of a ``model_index.json`` (ValueError if not one)."""
    parsed = json.loads(data[:MAX_INDEX].decode("utf-8"))
    if not isinstance(parsed, dict) or "_class_name" not in parsed:
        raise ValueError("not a diffusers model_index.json")
    components = {
        str(k): [str(x) for x in v][:2] for k, v in parsed.items() if not k.startswith("_") and isinstance(v, list)
    }
    return {
        "pipeline": str(parsed.get("_class_name")),
        "diffusers_version": str(parsed.get("_diffusers_version")),
        "components": components,
    }
