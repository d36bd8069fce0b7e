"""PDQ hashing, bit-identical to Meta's reference as wrapped by the ``pdqhash`` package.

``pdq_from_rgb`` takes decoded pixels (``H x W x 3`` uint8 RGB, any strides, or ``H x W`` uint8 grey)
and returns ``(hex, quality)`` exactly as ``threatexchange``'s ``pdq_from_file`` would for that RGB
array. The C extension ``_pdqcore`` does the work; when it did not build, a pure-numpy implementation
(:mod:`cairn.signals.pdq.reference`) runs instead, with a one-time warning, and
``PDQ_IMPLEMENTATION`` says which one is in use so a scan can record it.

``pdq_dihedral_from_rgb`` also gives the hashes of the picture's seven rotations and flips
(:data:`DIHEDRAL_TRANSFORMS`), computed from the same DCT exactly as Meta's
``pdqDihedralHash256esFromFloatLuma`` (``pdqhash.compute_dihedral``) does: hardly more work than one hash.
A scan stores them as hash kind :data:`DIHEDRAL_KIND` (:func:`dihedral_value`), so that ``cairn match
--dihedral`` can find rotated and mirrored copies of listed pictures without decoding anything again.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "DIHEDRAL_INVERSE",
    "DIHEDRAL_KIND",
    "DIHEDRAL_TRANSFORMS",
    "PDQ_IMPLEMENTATION",
    "dihedral_value",
    "dihedral_variants",
    "pdq_dihedral_from_rgb",
    "pdq_distance",
    "pdq_from_rgb",
]

#: The seven non-identity dihedral transforms, in Meta's order (the order of the stored variants). The hash
#: variant ``t`` of a picture's PDQ is (near) the PDQ of the picture transformed by ``t``; in Pillow's terms:
#: rot90 = ``ROTATE_90`` (90 degrees counter-clockwise), rot180 = ``ROTATE_180``, rot270 = ``ROTATE_270``
#: (90 degrees clockwise), flipx = ``FLIP_TOP_BOTTOM`` (mirrored across the horizontal axis), flipy =
#: ``FLIP_LEFT_RIGHT`` (mirrored across the vertical axis), flipplus = ``TRANSPOSE`` (mirrored across the
#: top-left to bottom-right diagonal), flipminus = ``TRANSVERSE`` (across the other diagonal).
DIHEDRAL_TRANSFORMS = ("rot90", "rot180", "rot270", "flipx", "flipy", "flipplus", "flipminus")
#: The transform that undoes each one (rotations by 90 degrees undo each other; every flip undoes itself).
DIHEDRAL_INVERSE = {
    "rot90": "rot270",
    "rot180": "rot180",
    "rot270": "rot90",
    "flipx": "flipx",
    "flipy": "flipy",
    "flipplus": "flipplus",
    "flipminus": "flipminus",
}
#: The hash kind a scan stores the variants under (:func:`dihedral_value`), with the PDQ's quality.
DIHEDRAL_KIND = "pdq_dihedral"

_hash: Callable[[npt.NDArray[np.uint8]], tuple[str, int]]
_dihedral: Callable[[npt.NDArray[np.uint8]], tuple[tuple[str, ...], int]]

try:
    from cairn.signals.pdq._pdqcore import pdq_hash as _c_hash
    from cairn.signals.pdq._pdqcore import pdq_hash_dihedral as _c_dihedral
except ImportError:  # pragma: no cover - exercised only where the extension did not build
    from cairn.signals.pdq.reference import pdq_hash_dihedral_numpy as _dihedral
    from cairn.signals.pdq.reference import pdq_hash_numpy as _hash

    PDQ_IMPLEMENTATION: str = "numpy"
    _warned = False
else:
    _hash = _c_hash
    _dihedral = _c_dihedral
    PDQ_IMPLEMENTATION = "c"
    _warned = True


def pdq_from_rgb(pixels: npt.NDArray[np.uint8]) -> tuple[str, int]:
    """PDQ of decoded pixels: ``(64 lowercase hex digits, quality 0..100)``.

    ``pixels`` is ``H x W x 3`` uint8 RGB (extra channels beyond the third are ignored, as the
    reference does) or ``H x W`` uint8 grey (hashed as the RGB picture with R=G=B). Any strides are
    accepted; nothing is copied. Pictures under 5 px on a side give the all-zero hash and quality 0.
    Raises ``TypeError`` for a non-uint8 array and ``ValueError`` for another shape.
    """
    if _checked(pixels, "pdq_from_rgb"):
        return "0" * 64, 0
    return _hash(pixels)


def pdq_dihedral_from_rgb(pixels: npt.NDArray[np.uint8]) -> tuple[tuple[str, ...], int]:
    """The PDQ of decoded pixels and of their seven rotations and flips, from one DCT: ``(hexes, quality)``.

    ``hexes`` holds 8 hashes of 64 lowercase hex digits: the picture's own (what :func:`pdq_from_rgb`
    gives), then one per :data:`DIHEDRAL_TRANSFORMS`, in that order; bit-identical to
    ``pdqhash.compute_dihedral``. Arguments, errors and tiny pictures as :func:`pdq_from_rgb`.
    """
    if _checked(pixels, "pdq_dihedral_from_rgb"):
        return ("0" * 64,) * 8, 0
    return _dihedral(pixels)


def _checked(pixels: npt.NDArray[np.uint8], who: str) -> bool:
    """Check the pixels' type and shape (warn once when the C extension is missing); True when empty."""
    global _warned
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8:
        raise TypeError(f"{who} needs a numpy uint8 array")
    if not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] >= 3)):
        raise ValueError(f"{who} needs shape (H, W) or (H, W, 3), got {pixels.shape}")
    if not _warned:
        _warned = True
        warnings.warn(
            "cairn's PDQ C extension is not built; using the slow numpy implementation",
            RuntimeWarning,
            stacklevel=3,
        )
    return bool(pixels.shape[0] == 0 or pixels.shape[1] == 0)


def dihedral_value(variants: Sequence[str]) -> str:
    """The stored form of the seven variants (in :data:`DIHEDRAL_TRANSFORMS` order): their hex joined by
    commas (7 x 64 digits + 6 commas = 454 characters)."""
    if len(variants) != len(DIHEDRAL_TRANSFORMS):
        raise ValueError(f"{len(DIHEDRAL_TRANSFORMS)} variants are stored, not {len(variants)}")
    return ",".join(variants)


def dihedral_variants(value: str) -> list[tuple[str, str]] | None:
    """``(transform, 64 lower-case hex)`` of each variant in a stored :func:`dihedral_value`, in order; None
    when ``value`` is not seven well-formed PDQs."""
    parts = value.lower().split(",")
    if len(parts) != len(DIHEDRAL_TRANSFORMS):
        return None
    for part in parts:
        try:
            if len(part) != 64 or len(bytes.fromhex(part)) != 32:
                return None
        except ValueError:
            return None
    return list(zip(DIHEDRAL_TRANSFORMS, parts, strict=True))


def pdq_distance(a_hex: str, b_hex: str) -> int:
    """Hamming distance between two 64-hex-digit PDQ hashes (0..256). Raises ``ValueError`` on bad hex."""
    if len(a_hex) != 64 or len(b_hex) != 64:
        raise ValueError("PDQ hashes are 64 hex digits")
    return (int(a_hex, 16) ^ int(b_hex, 16)).bit_count()
