"""PDQ perceptual hash (Meta's, bit-identical to the reference) and its quality, from the one decode."""

from __future__ import annotations

from cairn.model import FileResult
from cairn.settings import ScanSettings
from cairn.signals.base import DecodedImage
from cairn.signals.pdq import DIHEDRAL_KIND, dihedral_value, pdq_dihedral_from_rgb

#: The hash kinds :class:`PdqSignal` stores (a scan records them: a resume must not mix runs storing others).
PDQ_KINDS = ("pdq", DIHEDRAL_KIND)


class PdqSignal:
    """Stores hash kind ``pdq`` (64 hex chars) with its quality (0-100), and kind ``pdq_dihedral`` with the
    same quality: the PDQs of the picture's seven rotations and flips, computed from the same DCT (see
    :func:`cairn.signals.pdq.dihedral_value` for the stored form). ``cairn match --dihedral`` matches them;
    they need the DCT, which the stored bits no longer hold, so they are made here, at scan time."""

    name = "pdq"
    order = 10

    def apply(self, decoded: DecodedImage, result: FileResult, settings: ScanSettings) -> None:
        hexes, quality = pdq_dihedral_from_rgb(decoded.rgb)
        result.hashes[self.name] = hexes[0]
        result.hash_quality[self.name] = quality
        result.hashes[DIHEDRAL_KIND] = dihedral_value(hexes[1:])
        result.hash_quality[DIHEDRAL_KIND] = quality


SIGNALS = [PdqSignal()]
