"""Cryptographic digests of every item's bytes: MD5, SHA-1, SHA-256 (the kinds hash lists exchange)."""

from __future__ import annotations

import hashlib

from cairn.model import FileResult
from cairn.settings import ScanSettings
from cairn.signals.base import ItemContext


class _DigestState:
    def __init__(self, kind: str, algorithm: str) -> None:
        self._kind = kind
        self._h = hashlib.new(algorithm)

    def update(self, chunk: bytes | memoryview) -> None:
        self._h.update(chunk)

    def finish(self, result: FileResult) -> None:
        result.hashes[self._kind] = self._h.hexdigest()


class Digest:
    """A hashlib digest stored under a constant hash kind (lowercase hex)."""

    def __init__(self, kind: str, algorithm: str) -> None:
        self.name = kind
        self.order = 0
        self._algorithm = algorithm

    def start(self, settings: ScanSettings, context: ItemContext) -> _DigestState:
        return _DigestState(self.name, self._algorithm)


MD5 = Digest("md5", "md5")
SHA1 = Digest("sha1", "sha1")
SHA256 = Digest("sha256", "sha256")

SIGNALS = [MD5, SHA1, SHA256]
