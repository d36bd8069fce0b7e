"""AI model files on the evidence (issue 13): detected by content, hashed by every kind a generation record or
a model site names them by, described without ever being loaded.

A stream signal: for an item whose first bytes are a model format (:mod:`cairn.signals.models.detect`), it keeps
only the bytes its reader needs (a safetensors header, up to 64 MiB of a pickle, zip checkpoint, GGUF or ONNX
file) and hashes every byte once (:class:`~cairn.signals.models.hashes.ModelHasher`); other items cost it a
header check. The hashes go to the item's hashes by kind (``autov1``, ``autov2``, ``autov3``,
``tensor_sha256``, ``sha256_12``, ``blake3``, ``crc32``; ``sha256`` is the digest signal's), so generation
records resolve against them and hash lists match them; the description is one ``Finding(signal="ai_model",
kind="model_file")`` with where in the file it was read. Pickles are never unpickled: their opcodes are walked
(:mod:`cairn.signals.models.pickles`), and callables outside the tensor-rebuild allowlist give a
``pickle_imports`` note. A file that cannot be read gets a ``model_unreadable`` error and is hashed anyway.
"""

from __future__ import annotations

from typing import Any

from cairn import errors
from cairn.model import FileResult, Finding
from cairn.settings import ScanSettings
from cairn.signals.base import ItemContext
from cairn.signals.models import detect
from cairn.signals.models.describe import describe
from cairn.signals.models.hashes import FOLDER_MODEL_EXTENSIONS, ModelHasher

NAME = "ai_model"
KIND = "model_file"
#: Hash kinds this signal adds to an item's hashes.
HASH_KINDS = ("autov1", "autov2", "autov3", "tensor_sha256", "sha256_12", "blake3", "crc32")


class _Ignore:
    """The state for items that are not model files: every byte ignored."""

    def update(self, chunk: bytes | memoryview) -> None:
        return None

    def finish(self, result: FileResult) -> None:
        return None


_IGNORE = _Ignore()


class _HashOnly:
    """A file named like a model (``.safetensors``, ``.bin``, ...) whose content is no model format: only its
    BLAKE3, which InvokeAI's hash of a folder model takes from every such file (see ``model_links``)."""

    def __init__(self) -> None:
        self.hasher = ModelHasher(None)

    def update(self, chunk: bytes | memoryview) -> None:
        self.hasher.update(chunk)

    def finish(self, result: FileResult) -> None:
        digest = self.hasher.result().get("blake3")
        if digest is not None:
            result.hashes["blake3"] = digest


class _ModelState:
    def __init__(self, fmt: str, context: ItemContext) -> None:
        self.fmt = fmt
        self.size = context.size
        self.want = detect.capture_bytes(fmt, context.head)
        self.kept = bytearray()
        tensor_offset = self.want if fmt == detect.SAFETENSORS else None
        self.hasher = ModelHasher(tensor_offset)

    def update(self, chunk: bytes | memoryview) -> None:
        if len(self.kept) < self.want:
            self.kept += memoryview(chunk)[: self.want - len(self.kept)]
        self.hasher.update(chunk)

    def finish(self, result: FileResult) -> None:
        size = self.hasher.position
        hashes = self.hasher.result(result.hashes.get("sha256"))
        for kind in HASH_KINDS:
            if kind in hashes:
                result.hashes[kind] = hashes[kind]
        desc = describe(self.fmt, bytes(self.kept), size)
        self.kept = bytearray()
        if desc.unreadable is not None:
            result.errors.append(
                errors.item_error(
                    errors.MODEL_UNREADABLE,
                    f"{self.fmt} model file not readable ({desc.unreadable}); its hashes were computed",
                )
            )
        elif desc.partial is not None:
            result.errors.append(
                errors.item_error(
                    errors.MODEL_UNREADABLE,
                    f"{self.fmt} model file partly read ({desc.partial[:300]}); what was read is in its finding, "
                    "its hashes were computed",
                )
            )
        data: dict[str, Any] = {"format": self.fmt}
        if desc.kind is not None:
            data.update(kind=desc.kind.kind, family=desc.kind.family, kind_reason=desc.kind.reason)
        data["hashes"] = {k: v for k, v in hashes.items()}
        data.update(desc.data)
        claims = hash_claims(desc.data.get("metadata") or {}, hashes)
        if claims:
            data["hash_claims"] = claims
        if desc.warnings:
            data["warnings"] = desc.warnings[:64]
        if desc.unreadable is not None:
            data["unreadable"] = desc.unreadable
        elif desc.partial is not None:
            data["partly_read"] = desc.partial[:1000]
        result.findings.append(Finding(NAME, KIND, data, desc.where))
        if desc.dangerous:
            names = sorted(set(desc.dangerous))
            result.errors.append(
                errors.item_note(
                    errors.PICKLE_IMPORTS,
                    f"pickle would import {len(names)} callable(s) outside the tensor allowlist: "
                    f"{', '.join(names[:8])}{' ...' if len(names) > 8 else ''} (never run: opcodes read statically)",
                )
            )


def hash_claims(metadata: dict[str, str], hashes: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The hashes a file's metadata claims for itself, each checked against the computed one where the same
    thing is hashed: ``sshs_model_hash`` and ``modelspec.hash_sha256`` are the tensor data's SHA-256 (a
    mismatch: the weights were changed after the claim was written); ``sshs_legacy_hash`` is kohya's
    AutoV1-style hash of a re-serialisation of the file, not of this file, so it is kept, not checked."""
    claims: dict[str, dict[str, Any]] = {}
    tensor = hashes.get("tensor_sha256")
    for key in ("sshs_model_hash", "modelspec.hash_sha256"):
        value = metadata.get(key)
        if value:
            claimed = value.strip().lower().removeprefix("0x")
            claims[key] = {"value": value[:200], "matches_tensor_sha256": None if tensor is None else claimed == tensor}
    legacy = metadata.get("sshs_legacy_hash")
    if legacy:
        claims["sshs_legacy_hash"] = {"value": legacy[:200], "checked": False}
    return claims


class AiModelSignal:
    """Detects, hashes and describes AI model files (see the module notes)."""

    name = NAME
    order = 20  # after the digests (order 0): the whole-file SHA-256 is theirs

    def start(self, settings: ScanSettings, context: ItemContext) -> _ModelState | _HashOnly | _Ignore:
        fmt = detect.detect(context.head, context.size)
        if fmt is not None:
            return _ModelState(fmt, context)
        if context.locator.name.endswith(FOLDER_MODEL_EXTENSIONS):  # a folder model's component, whatever it holds
            return _HashOnly()
        return _IGNORE


SIGNALS = [AiModelSignal()]
