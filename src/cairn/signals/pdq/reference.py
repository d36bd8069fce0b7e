"""Slow, exact pure-numpy PDQ: the fallback when the C extension did not build, and the algorithm's spec.

Bit-identical to Meta's reference (``pdqhashing.cpp``) as the ``pdqhash`` package drives it. Every value
below is float32 unless said otherwise, and every operation is done in the reference's order, because
float rounding makes order part of the result:

1. **Luma** (float64, then cast): ``(R*0.299 + G*0.587) + B*0.114`` rounded to float32, as the binding
   computes it with numpy. A grey picture is hashed as the RGB picture with R=G=B.
2. **Tiny pictures**: fewer than 5 rows or columns give the all-zero hash and quality 0.
3. **Downsample to 64x64**. A 64x64 picture is used as is. Otherwise two rounds of (box filter along
   rows, then box filter along columns), window ``(n + 127) // 128`` for a dimension of ``n``, then
   decimation at ``int((k + 0.5) * n / 64)`` (float64), k = 0..63.

   The box filter of window ``w`` over a line of length ``n`` is a running sum: ``h = (w + 2) // 2``;
   the sum starts at 0; inputs ``0..h-2`` are added; then for each output ``o``, input ``o + h - 1`` is
   added if it exists, *then* input ``o - (w - h) - 1`` is subtracted if it exists, and the output is
   the sum divided by the number of inputs now in the window.
4. **Quality**: over vertical then horizontal neighbour pairs ``(u, v)`` of the 64x64 picture, add
   ``abs(int(((u - v) * 100) / 255))`` (truncating); quality is ``min(total // 90, 100)``.
5. **DCT**: ``D[i][j] = float32(float32(sqrt(2/64)) * cos(pi/2/64 * (i+1) * (2j+1)))`` (float64 inside),
   16x64. ``T = D A`` then ``B = T D^T``, each dot product summed from k = 0 upwards, starting at 0.
6. **Bits**: the median of the 256 values of ``B`` by Torben Mogensen's method (with its exact tie
   rules); bit ``16*i + j`` is set when ``B[i][j] > median``. The hex form prints bit 255 first.
7. **Dihedral variants** (Meta's ``pdqDihedralHash256esFromFloatLuma``): the hashes of the picture's seven
   rotations and flips come from ``B`` itself, not from new pictures. Mirroring the 64x64 picture along an
   axis keeps the coefficients of odd index along that axis (even frequencies: index ``i`` is frequency
   ``i + 1``) and negates those of even index; a transpose swaps the axes. Each variant's ``B'`` is
   thresholded at its own median as in step 6. In the reference's order (``^T``: transposed, ``-`` on the
   coefficients negated):

   ========== ============================= ==========================
   variant    ``B'``                        same hash as (Pillow)
   ========== ============================= ==========================
   rot90      ``B^T``, ``-`` for even ``j``  ``ROTATE_90`` (counter-clockwise)
   rot180     ``B``, ``-`` for odd ``i+j``   ``ROTATE_180``
   rot270     ``B^T``, ``-`` for even ``i``  ``ROTATE_270``
   flipx      ``B``, ``-`` for even ``i``    ``FLIP_TOP_BOTTOM``
   flipy      ``B``, ``-`` for even ``j``    ``FLIP_LEFT_RIGHT``
   flipplus   ``B^T``                        ``TRANSPOSE``
   flipminus  ``B^T``, ``-`` for odd ``i+j`` ``TRANSVERSE``
   ========== ============================= ==========================

   (``i, j`` index ``B`` before the transpose.) "Same hash as" is up to the resampling: the variant of a
   picture's hash is near, not always equal to, the hash of the transformed picture.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]

MIN_DIM = 5


def luma(pixels: npt.NDArray[np.uint8]) -> F32:
    """float32 luma exactly as pdqhash's binding computes it (``H x W`` grey counts as R=G=B)."""
    if pixels.ndim == 2:
        r = g = b = pixels
    else:
        r, g, b = pixels[:, :, 0], pixels[:, :, 1], pixels[:, :, 2]
    y: npt.NDArray[np.float64] = r * 0.299 + g * 0.587 + b * 0.114
    return y.astype(np.float32)


def box_along_axis0(x: F32, w: int) -> F32:
    """Jarosz box filter of window ``w`` down each column of ``x``, running sums in float32."""
    n = x.shape[0]
    h = (w + 2) // 2
    lag = w - h + 1
    s = np.zeros(x.shape[1], dtype=np.float32)
    out = np.empty_like(x)
    for t in range(h - 1):
        s += x[t]
    for o in range(n):
        a = o + h - 1
        if a < n:
            s += x[a]
        if o - lag >= 0:
            s -= x[o - lag]
        count = min(a, n - 1) - max(o - (w - h), 0) + 1
        out[o] = s / np.float32(count)
    return out


def downsample64(y: F32) -> F32:
    """The 64x64 float32 picture PDQ hashes: two rounds of box filters, then decimation."""
    rows, cols = y.shape
    if rows == 64 and cols == 64:
        return y.copy()
    w_rows = (cols + 127) // 128  # window along each row
    w_cols = (rows + 127) // 128  # window along each column
    x = y
    for _ in range(2):
        x = np.ascontiguousarray(box_along_axis0(np.ascontiguousarray(x.T), w_rows).T)
        x = box_along_axis0(x, w_cols)
    di = [int(((k + 0.5) * rows) / 64) for k in range(64)]
    dj = [int(((k + 0.5) * cols) / 64) for k in range(64)]
    return np.ascontiguousarray(x[np.ix_(di, dj)])


def quality(a: F32) -> int:
    """PDQ's image-domain quality metric (0..100) of the 64x64 picture."""
    hundred, d255 = np.float32(100), np.float32(255)
    dv = (((a[:-1, :] - a[1:, :]) * hundred) / d255).astype(np.int32)
    dh = (((a[:, :-1] - a[:, 1:]) * hundred) / d255).astype(np.int32)
    total = int(np.abs(dv).sum()) + int(np.abs(dh).sum())
    return min(total // 90, 100)


def dct_matrix() -> F32:
    """The reference's 16x64 float32 DCT matrix (float64 inside, libm cos)."""
    scale = float(np.float32(math.sqrt(2.0 / 64.0)))
    d = np.empty((16, 64), dtype=np.float32)
    for i in range(16):
        for j in range(64):
            d[i, j] = np.float32(scale * math.cos((math.pi / 2.0 / 64.0) * (i + 1) * (2 * j + 1)))
    return d


def dct64to16(a: F32) -> F32:
    """``D A D^T`` with every dot product summed in float32 from k = 0 upwards."""
    d = dct_matrix()
    t = np.zeros((16, 64), dtype=np.float32)
    for k in range(64):
        t += d[:, k : k + 1] * a[k : k + 1, :]
    b = np.zeros((16, 16), dtype=np.float32)
    for k in range(64):
        b += t[:, k : k + 1] * d[:, k][np.newaxis, :]
    return b


def torben(m: F32) -> np.float32:
    """Torben Mogensen's median of a float32 vector, with the reference's exact tie rules."""
    n = m.size
    half = (n + 1) // 2
    lo, hi = np.float32(m.min()), np.float32(m.max())
    while True:
        guess = np.float32((lo + hi) / np.float32(2))
        below, above = m[m < guess], m[m > guess]
        less, greater = below.size, above.size
        equal = n - less - greater
        max_lt = max(lo, np.float32(below.max())) if less else lo  # the scan starts from lo / hi
        min_gt = min(hi, np.float32(above.min())) if greater else hi
        if less <= half and greater <= half:
            break
        if less > greater:
            hi = max_lt
        else:
            lo = min_gt
    if less >= half:
        return max_lt
    if less + equal >= half:
        return guess
    return min_gt


def to_hex(b: F32) -> str:
    """The 64 hex digits of a 16x16 DCT output thresholded at its Torben median (bit 255 first)."""
    med = torben(b.ravel())
    value = 0
    for k, bit in enumerate((b > med).ravel().tolist()):
        if bit:
            value |= 1 << k
    return f"{value:064x}"


#: Per variant, in the reference's order: (transposed, which coefficients are negated, from (i, j) of ``B``).
_I, _J = np.mgrid[0:16, 0:16]
DIHEDRAL_RULES: tuple[tuple[str, bool, npt.NDArray[np.bool_]], ...] = (
    ("rot90", True, _J % 2 == 0),
    ("rot180", False, (_I + _J) % 2 == 1),
    ("rot270", True, _I % 2 == 0),
    ("flipx", False, _I % 2 == 0),
    ("flipy", False, _J % 2 == 0),
    ("flipplus", True, np.zeros((16, 16), dtype=bool)),
    ("flipminus", True, (_I + _J) % 2 == 1),
)


def dihedral_dct(b: F32, transposed: bool, negate: npt.NDArray[np.bool_]) -> F32:
    """A variant's 16x16 DCT output from the original's (step 7): negation is exact, so no rounding."""
    out: F32 = np.where(negate, -b, b).astype(np.float32)
    return np.ascontiguousarray(out.T) if transposed else out


def pdq_hash_numpy(pixels: npt.NDArray[np.uint8]) -> tuple[str, int]:
    """``(64 hex digits, quality)`` of ``H x W x 3`` uint8 RGB or ``H x W`` uint8 grey, as pdqhash gives."""
    if pixels.shape[0] < MIN_DIM or pixels.shape[1] < MIN_DIM:
        return "0" * 64, 0
    a = downsample64(luma(pixels))
    return to_hex(dct64to16(a)), quality(a)


def pdq_hash_dihedral_numpy(pixels: npt.NDArray[np.uint8]) -> tuple[tuple[str, ...], int]:
    """The eight hashes (original, then the variants of :data:`DIHEDRAL_RULES` in order) and the quality, as
    ``pdqhash.compute_dihedral`` gives them."""
    if pixels.shape[0] < MIN_DIM or pixels.shape[1] < MIN_DIM:
        return ("0" * 64,) * 8, 0
    a = downsample64(luma(pixels))
    b = dct64to16(a)
    variants = [to_hex(dihedral_dct(b, transposed, negate)) for _name, transposed, negate in DIHEDRAL_RULES]
    return (to_hex(b), *variants), quality(a)
