"""PDQ perceptual hash (Meta's, bit-identical to the reference) and its quality, from the one decode."""

from __future__ import annotations

from cairn.model import FileResult
from cairn.settings import ScanSettings
from cairn.signals.base import DecodedImage
from cairn.signals.pdq import pdq_from_rgb


class PdqSignal:
    """Stores hash kind ``pdq`` (64 hex chars) with its quality (0-100)."""

    name = "pdq"
    order = 10

    def apply(self, decoded: DecodedImage, result: FileResult, settings: ScanSettings) -> None:
        value, quality = pdq_from_rgb(decoded.rgb)
        result.hashes[self.name] = value
        result.hash_quality[self.name] = quality


SIGNALS = [PdqSignal()]
