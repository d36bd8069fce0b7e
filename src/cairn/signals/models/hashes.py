"""Every hash kind a model file is named by, from one streaming pass over its bytes.

Kinds (see :data:`cairn.signals.provenance.record.HASH_KINDS` for what a generation record calls them):

* ``sha256``: the whole file (cairn's own SHA-256 digest of the item, shared, not computed twice);
* ``autov2``: its first 10 hex digits (A1111 "Model hash", Fooocus, Civitai AutoV2);
* ``autov1``: SHA-256 of the 0x10000 bytes at offset 0x100000, first 8 hex digits (A1111's old model hash);
  none for a file of 0x100000 bytes or fewer (A1111 would hash nothing there);
* ``tensor_sha256``: SHA-256 from byte ``8 + N`` to the end of a safetensors file whose header is ``N`` bytes
  long (kohya's ``sshs_model_hash``, SwarmUI, ``modelspec.hash_sha256``): unchanged when only the metadata is
  edited; ``autov3`` is its first 12 hex digits (A1111 "Lora hashes", addnet);
* ``sha256_12``: the whole file's first 12 hex digits (A1111 "TI hashes");
* ``blake3``: BLAKE3 of the whole file (InvokeAI's ``blake3:``), where the ``blake3`` package is installed;
* ``crc32``: CRC-32 of the whole file, 8 hex digits.

Each chunk is fed once; nothing is held but the 64 KiB AutoV1 window.
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Any

_blake3: Any
try:  # optional: InvokeAI's model hash
    import blake3 as _blake3
except ImportError:  # pragma: no cover - an install without the blake3 wheel
    _blake3 = None

AUTOV1_OFFSET = 0x100000
AUTOV1_LENGTH = 0x10000
#: The files InvokeAI hashes in a folder model (by name, case-sensitive, as it does).
FOLDER_MODEL_EXTENSIONS = (".ckpt", ".safetensors", ".bin", ".pt", ".pth")


def blake3_available() -> bool:
    """Whether BLAKE3 hashes are computed (the ``blake3`` package is installed)."""
    return _blake3 is not None


class ModelHasher:
    """Streams one file; ``tensor_offset`` (``8 + N`` of a safetensors file, else None) starts the tensor hash."""

    def __init__(self, tensor_offset: int | None = None) -> None:
        self.tensor_offset = tensor_offset
        self.position = 0
        self._tensor = hashlib.sha256() if tensor_offset is not None else None
        self._window = bytearray()
        self._blake: Any = _blake3.blake3(max_threads=_blake3.blake3.AUTO) if _blake3 is not None else None
        self._crc = 0
        self._own_sha256: Any = None  # only when the caller has no whole-file SHA-256 of its own

    def update(self, chunk: bytes | memoryview) -> None:
        """Feed the next bytes of the file."""
        view = memoryview(chunk)
        start, end = self.position, self.position + len(view)
        if self._tensor is not None and self.tensor_offset is not None and end > self.tensor_offset:
            self._tensor.update(view[max(0, self.tensor_offset - start) :])
        if end > AUTOV1_OFFSET and start < AUTOV1_OFFSET + AUTOV1_LENGTH:
            lo = max(0, AUTOV1_OFFSET - start)
            hi = min(len(view), AUTOV1_OFFSET + AUTOV1_LENGTH - start)
            self._window += view[lo:hi]
        if self._blake is not None:
            self._blake.update(view)
        self._crc = zlib.crc32(view, self._crc)
        if self._own_sha256 is not None:
            self._own_sha256.update(view)
        self.position = end

    def own_sha256(self) -> None:
        """Compute the whole-file SHA-256 here too (call before the first byte; for callers without one)."""
        if self.position == 0 and self._own_sha256 is None:
            self._own_sha256 = hashlib.sha256()

    def result(self, sha256: str | None = None) -> dict[str, str]:
        """The hashes by kind, given the whole file's SHA-256 (lower-case hex) when the caller has it."""
        if sha256 is None and self._own_sha256 is not None:
            sha256 = self._own_sha256.hexdigest()
        out: dict[str, str] = {}
        if sha256 is not None:
            out["sha256"] = sha256
            out["autov2"] = sha256[:10]
            out["sha256_12"] = sha256[:12]
        if self.position > AUTOV1_OFFSET:
            out["autov1"] = hashlib.sha256(bytes(self._window)).hexdigest()[:8]
        if self._tensor is not None and self.tensor_offset is not None and self.position >= self.tensor_offset:
            tensor = self._tensor.hexdigest()
            out["tensor_sha256"] = tensor
            out["autov3"] = tensor[:12]
        if self._blake is not None:
            out["blake3"] = self._blake.hexdigest()
        out["crc32"] = f"{self._crc & 0xFFFFFFFF:08x}"
        return out


def blake3_hex(data: bytes) -> str | None:
    """BLAKE3 of ``data`` (lower-case hex), or None without the ``blake3`` package."""
    return None if _blake3 is None else str(_blake3.blake3(data).hexdigest())


def folder_blake3(component_hashes: list[tuple[tuple[str, ...], str]]) -> str | None:
    """InvokeAI's hash of a folder model: BLAKE3 over the hex BLAKE3 digests of its model files (names ending in
    :data:`FOLDER_MODEL_EXTENSIONS`, anywhere under the folder), taken in the order of their paths compared part
    by part (``component_hashes`` holds (path parts, digest)), each digest as UTF-8 text. None without the
    ``blake3`` package or without component."""
    if _blake3 is None or not component_hashes:
        return None
    composite = _blake3.blake3()
    for _, digest in sorted(component_hashes):
        composite.update(digest.encode("utf-8"))
    return str(composite.hexdigest())
