"""PDQ hashing, bit-identical to Meta's reference as wrapped by the ``pdqhash`` package.

``pdq_from_rgb`` takes decoded pixels (``H x W x 3`` uint8 RGB, any strides, or ``H x W`` uint8 grey)
and returns ``(hex, quality)`` exactly as ``threatexchange``'s ``pdq_from_file`` would for that RGB
array. The C extension ``_pdqcore`` does the work; when it did not build, a pure-numpy implementation
(:mod:`cairn.signals.pdq.reference`) runs instead, with a one-time warning, and
``PDQ_IMPLEMENTATION`` says which one is in use so a scan can record it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

__all__ = ["PDQ_IMPLEMENTATION", "pdq_distance", "pdq_from_rgb"]

_hash: Callable[[npt.NDArray[np.uint8]], tuple[str, int]]

try:
    from cairn.signals.pdq._pdqcore import pdq_hash as _c_hash
except ImportError:  # pragma: no cover - exercised only where the extension did not build
    from cairn.signals.pdq.reference import pdq_hash_numpy as _hash

    PDQ_IMPLEMENTATION: str = "numpy"
    _warned = False
else:
    _hash = _c_hash
    PDQ_IMPLEMENTATION = "c"
    _warned = True


def pdq_from_rgb(pixels: npt.NDArray[np.uint8]) -> tuple[str, int]:
    """PDQ of decoded pixels: ``(64 lowercase hex digits, quality 0..100)``.

    ``pixels`` is ``H x W x 3`` uint8 RGB (extra channels beyond the third are ignored, as the
    reference does) or ``H x W`` uint8 grey (hashed as the RGB picture with R=G=B). Any strides are
    accepted; nothing is copied. Pictures under 5 px on a side give the all-zero hash and quality 0.
    Raises ``TypeError`` for a non-uint8 array and ``ValueError`` for another shape.
    """
    global _warned
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8:
        raise TypeError("pdq_from_rgb needs a numpy uint8 array")
    if not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] >= 3)):
        raise ValueError(f"pdq_from_rgb needs shape (H, W) or (H, W, 3), got {pixels.shape}")
    if not _warned:
        _warned = True
        warnings.warn(
            "cairn's PDQ C extension is not built; using the slow numpy implementation",
            RuntimeWarning,
            stacklevel=2,
        )
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        return "0" * 64, 0
    return _hash(pixels)


def pdq_distance(a_hex: str, b_hex: str) -> int:
    """Hamming distance between two 64-hex-digit PDQ hashes (0..256). Raises ``ValueError`` on bad hex."""
    if len(a_hex) != 64 or len(b_hex) != 64:
        raise ValueError("PDQ hashes are 64 hex digits")
    return (int(a_hex, 16) ^ int(b_hex, 16)).bit_count()
