"""The invisible watermark of Stable Diffusion and InvokeAI images: the ``dwtDct`` method of the
``invisible-watermark`` package (``imwatermark``), decoded on NumPy alone.

The package's PyPI release imports torch on load, so cairn reads the watermark with its own implementation of
the same algorithm (tests check it bit for bit against the package's decoder and encoder):

1. the picture, as the uint8 array the encoder was given, is converted to YUV with OpenCV's fixed-point
   BT.601 formula (``COLOR_BGR2YUV``); only the U channel carries the mark (the package's channel loop runs
   over channels 0 and 1 with scales 0 and 36, so Y is skipped and V never reached);
2. U, cut to multiples of 4 pixels, is transformed by one level of the Haar DWT; the approximation band (LL)
   is cut into 4x4 blocks, row by row;
3. in each block the coefficient of largest magnitude other than the first is found; its magnitude modulo the
   scale 36 above 18 reads as bit 1, else 0 (despite the name no DCT is taken);
4. block ``k`` votes for message bit ``k mod n``; a bit is 1 when more than 127/255 of its votes are 1.

Which order the encoder got the channels in is not always BGR: Stability's own code flips RGB to BGR, the
diffusers pipelines hand it RGB as is. Both orders are read; the better match is reported.

Messages: SDXL's fixed 48 bits ``0xB3EC907BB19E``, scored as Stability's detector does (matched bits of 48:
<= 27 none, 28-33 partial, 34-35 likely, >= 36 very likely: kept as ``stability_verdict``; the verdict also
counts the two channel orders tried, see :func:`scheme_verdict`); SD 1.x ``StableDiffusionV1`` (136 bits) and
SD 2.x ``SDV2`` (32 bits), for which no thresholds are published: reported with the matched bits and the
binomial probability that an unmarked image matches as many by chance, and a verdict no stronger than that
probability and the balanced share of matched bits allow at the levels of Stability's thresholds. InvokeAI's
mark is opt-in with a user-chosen text (default ``InvokeAI``): message lengths of 4 to 32 bytes are tried, and
a text reported only when its bits are clearly voted and every character is printable ASCII (its probability
bound counts every length tried).

Absence proves nothing: re-encoding, resizing or cropping removes the mark, and most generators never add one.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

try:  # the C kernel of the block votes (setup.py builds it; optional, the NumPy path gives the same votes)
    _core: Any = importlib.import_module("cairn.signals.provenance._dwtdct")
except ImportError:  # pragma: no cover - a build without a C compiler
    _core = None

#: The encoder refuses (and the decoder is meaningless on) pictures of fewer pixels than this.
MIN_PIXELS = 256 * 256
SCALE = 36.0
BLOCK = 4
#: pywt's Haar filter tap (its rounding, kept so the LL band is bit-identical to ``pywt.dwt2(x, "haar")``).
HAAR = 0.7071067811865476
ORDERS = ("bgr", "rgb")
ABSENCE_NOTE = (
    "absence of a watermark proves nothing: most generators add none, and re-encoding, resizing or cropping removes it"
)
WHERE = "pixels: invisible-watermark dwtDct (U channel, Haar LL, 4x4 blocks, scale 36), channel order {order}"

VERDICTS = ("none", "partial", "likely", "very likely")


def _bits_of(value: int, nbits: int) -> npt.NDArray[np.uint8]:
    return np.array([(value >> (nbits - 1 - i)) & 1 for i in range(nbits)], dtype=np.uint8)


def _bits_of_bytes(data: bytes) -> npt.NDArray[np.uint8]:
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8))


@dataclass(frozen=True)
class Scheme:
    """A known watermark message."""

    name: str
    bits: npt.NDArray[np.uint8]
    description: str


SDXL = Scheme("sdxl", _bits_of(0xB3EC907BB19E, 48), "Stable Diffusion XL (Stability AI, diffusers), 48 bits")
SD1 = Scheme("sd1", _bits_of_bytes(b"StableDiffusionV1"), "Stable Diffusion 1.x reference scripts, 'StableDiffusionV1'")
SD2 = Scheme("sd2", _bits_of_bytes(b"SDV2"), "Stable Diffusion 2.x reference scripts, 'SDV2'")
SCHEMES = (SDXL, SD1, SD2)
TEXT_SCHEME = "text"  # a printable message of unknown length (InvokeAI's opt-in mark, default 'InvokeAI')
TEXT_LENGTHS = range(4, 33)  # bytes tried for a text message
#: A text message's bits must be voted this clearly: |2 * share of 1-votes - 1| (0: a tie, 1: unanimous).
TEXT_MIN_CLARITY = 0.3  # mean over the bits; unmarked pictures read about 0.05, marked ones 0.5 and more


@lru_cache(maxsize=1024)
def p_at_least(matched: int, total: int) -> float:
    """P(X >= matched) for X ~ Binomial(total, 1/2): the chance an unmarked image matches that many bits."""
    return math.fsum(math.comb(total, k) for k in range(matched, total + 1)) / 2.0**total


#: Stability's SDXL thresholds as chance probabilities: the verdict levels for messages without thresholds.
P_LEVELS = (
    (p_at_least(36, 48), "very likely"),
    (p_at_least(34, 48), "likely"),
    (p_at_least(28, 48), "partial"),
)


def sdxl_verdict(matched: int) -> str:
    """Stability's own reading of matched bits out of 48."""
    if matched >= 36:
        return "very likely"
    if matched >= 34:
        return "likely"
    if matched >= 28:
        return "partial"
    return "none"


def p_verdict(p: float) -> str:
    """A verdict from a chance probability, at the levels of Stability's SDXL thresholds."""
    for level, verdict in P_LEVELS:
        if p <= level:
            return verdict
    return "none"


def weaker(a: str, b: str) -> str:
    """The lower of two verdicts."""
    return a if VERDICTS.index(a) <= VERDICTS.index(b) else b


def scheme_verdict(scheme: Scheme, matched: int, balanced: float, p: float) -> str:
    """The verdict is never stronger than the chance probability ``p`` (which counts both channel orders tried)
    allows at the levels of Stability's thresholds: reading two orders doubles the chance of a match, so SDXL
    needs 35 of 48 for "likely" and 37 for "very likely" where Stability's one-order detector says 34 and 36
    (its own reading is kept as ``stability_verdict``). SDXL: the weaker of Stability's verdict and that
    level; the others: the weaker of the balanced-share verdict and that level, so that neither a one-sided
    decode (a flat picture reads all zeros) nor a short message's noise (32 bits for SD 2.x) passes where
    SDXL's 48 bits would not."""
    if scheme is SDXL:
        return weaker(sdxl_verdict(matched), p_verdict(p))
    return weaker(share_verdict(balanced), p_verdict(p))


def text_verdict(p: float) -> str:
    """A printable, clearly voted text: "very likely" when its chance bound is at SDXL's very-likely level (12
    bytes and more), "likely" up to a bound of 0.05 (InvokeAI's 8 bytes), else "partial". The bound ignores the
    vote clarity an unmarked picture rarely shows, so it is conservative; these levels allow for that."""
    if p <= P_LEVELS[0][0]:
        return "very likely"
    return "likely" if p <= 0.05 else "partial"


def u_channels(pixels: npt.NDArray[np.uint8], orders: Sequence[str] = ORDERS) -> npt.NDArray[np.int32]:
    """OpenCV's ``COLOR_BGR2YUV`` U channel (bit-exact, fixed point) of ``pixels`` (HxWx3 RGB as decoded) for
    each of ``orders``, stacked: "bgr" reads it as the encoder did when given BGR (OpenCV's convention), "rgb"
    when given the RGB array as is (so it took red for blue)."""
    red, green, blue = pixels.transpose(2, 0, 1).astype(np.int32)  # one planar copy; the rest in place
    shared = green * 9617 + (1 << 13)
    out = np.empty((len(orders), *red.shape), dtype=np.int32)
    for k, order in enumerate(orders):
        r, b = (red, blue) if order == "bgr" else (blue, red)
        luma = r * 4899
        luma += b * 1868
        luma += shared
        luma >>= 14
        u = np.subtract(b, luma, out=out[k])
        u *= 8061
        u += (128 << 14) + (1 << 13)
        u >>= 14
    np.clip(out, 0, 255, out=out)
    return out


def u_channel(pixels: npt.NDArray[np.uint8], order: str) -> npt.NDArray[np.int32]:
    """The U channel for one channel order (see :func:`u_channels`)."""
    u: npt.NDArray[np.int32] = u_channels(pixels, (order,))[0]
    return u


def haar_ll(channel: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """The approximation band of one level of ``pywt.dwt2(channel, "haar")`` over the last two axes (even
    sides), bit-identical."""
    f = channel.astype(np.float64)
    rows = f[..., 0::2, :] * HAAR + f[..., 1::2, :] * HAAR
    ll: npt.NDArray[np.float64] = rows[..., 0::2] * HAAR + rows[..., 1::2] * HAAR
    return ll


def _blocks(ll: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The 4x4 blocks of each band (over the last two axes), row by row: (..., blocks, 16)."""
    lead = ll.shape[:-2]
    nr, nc = ll.shape[-2] // BLOCK, ll.shape[-1] // BLOCK
    cut = ll[..., : nr * BLOCK, : nc * BLOCK]
    shaped = cut.reshape(*lead, nr, BLOCK, nc, BLOCK).swapaxes(-3, -2)
    return shaped.reshape(*lead, nr * nc, BLOCK * BLOCK)


def kernel() -> str:
    """Which implementation reads the votes: "c" (the ``_dwtdct`` extension) or "numpy"."""
    return "c" if _core is not None else "numpy"


def _c_votes(
    pixels: npt.NDArray[np.uint8], orders: Sequence[str], block_rows: npt.NDArray[np.intp] | None
) -> dict[str, npt.NDArray[np.bool_]] | None:
    """The votes from the C kernel, or None where it cannot take these (no kernel, not HxWx3 uint8)."""
    if _core is None or pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        return None
    if not set(orders) <= set(ORDERS):
        return None
    height, width = pixels.shape[:2]
    rows = None if block_rows is None else np.ascontiguousarray(block_rows, dtype=np.int64)
    nrows = height // 8 if rows is None else rows.size
    out = np.empty((len(ORDERS), nrows * (width // 8)), dtype=np.uint8)
    _core.votes(pixels, rows, out)  # read in place, whatever the strides (a decode's RGB is a view of RGBA)
    return {order: out[ORDERS.index(order)].view(np.bool_) for order in orders}


def orders_votes(pixels: npt.NDArray[np.uint8], orders: Sequence[str] = ORDERS) -> dict[str, npt.NDArray[np.bool_]]:
    """Each 4x4 block's vote (True: 1) in the decoder's order, for each channel order (the C kernel's where it
    built, else :func:`numpy_orders_votes`: the same votes)."""
    found = _c_votes(pixels, orders, None)
    return found if found is not None else numpy_orders_votes(pixels, orders)


def numpy_orders_votes(
    pixels: npt.NDArray[np.uint8], orders: Sequence[str] = ORDERS
) -> dict[str, npt.NDArray[np.bool_]]:
    """:func:`orders_votes` on NumPy alone: the decoder's steps one array at a time."""
    height, width = pixels.shape[:2]
    blocks = np.abs(_blocks(haar_ll(u_channels(pixels[: height // 4 * 4, : width // 4 * 4], orders)))[..., 1:])
    peak = np.take_along_axis(blocks, blocks.argmax(axis=-1)[..., None], axis=-1)[..., 0]
    votes = np.remainder(peak, SCALE) > 0.5 * SCALE
    return {order: votes[k] for k, order in enumerate(orders)}


def block_votes(pixels: npt.NDArray[np.uint8], order: str) -> npt.NDArray[np.bool_]:
    """Each 4x4 block's vote (True: 1) in the decoder's order, for the channel ``order``."""
    return orders_votes(pixels, (order,))[order]


def _slot_sums(values: npt.NDArray[Any], nbits: int) -> npt.NDArray[np.int64]:
    """Sum of ``values[k]`` over every ``k`` with ``k % nbits == slot``, per slot (a reshape, no index array)."""
    whole = values.size // nbits * nbits
    sums: npt.NDArray[np.int64] = values[:whole].reshape(-1, nbits).sum(axis=0, dtype=np.int64)
    rest = values[whole:]
    sums[: rest.size] += rest
    return sums


@dataclass(frozen=True)
class Sampled:
    """Votes of some blocks only (a prescreen), each with its block number in the whole picture."""

    votes: npt.NDArray[np.bool_]
    index: npt.NDArray[np.int64]

    @property
    def size(self) -> int:
        return int(self.votes.size)


#: Every block's votes in the decoder's order, or some blocks' with their numbers.
Votes = npt.NDArray[np.bool_] | Sampled


def tally(votes: Votes, nbits: int) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float64]]:
    """The decoded bits for a message of ``nbits`` (as the package's decoder decides them) and each bit's share
    of 1-votes; block ``k`` votes for bit ``k % nbits``."""
    if isinstance(votes, Sampled):
        slot = votes.index % nbits
        ones = np.bincount(slot, weights=votes.votes, minlength=nbits).astype(np.int64)
        count = np.bincount(slot, minlength=nbits).astype(np.int64)
    else:
        ones = _slot_sums(votes.view(np.uint8), nbits)
        count = np.full(nbits, votes.size // nbits, dtype=np.int64)
        count[: votes.size % nbits] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        share = ones.astype(np.float64) / count
    bits = (share * 255 > 127).astype(np.uint8)  # NaN (no votes) compares False, as the package's does
    return bits, share


def sampled_votes(
    pixels: npt.NDArray[np.uint8], block_rows: npt.NDArray[np.intp], orders: Sequence[str] = ORDERS
) -> dict[str, Votes]:
    """The votes of the given rows of blocks (8 pixel rows each) with their block numbers in the picture, so
    :func:`tally` counts each for the bit the decoder gives it; per channel order."""
    per_row = pixels.shape[1] // 8
    index = (block_rows[:, None] * per_row + np.arange(per_row)).ravel().astype(np.int64)
    found = _c_votes(pixels, orders, block_rows)
    if found is None:
        band = pixels[(block_rows[:, None] * 8 + np.arange(8)).ravel()]
        found = numpy_orders_votes(band, orders)
    return {order: Sampled(votes, index) for order, votes in found.items()}


@dataclass(frozen=True)
class WatermarkScore:
    """One scheme's best reading of a picture."""

    scheme: str
    matched_bits: int
    total_bits: int
    verdict: str
    p_false_positive: float
    channel_order: str
    decoded_text: str | None = None
    clarity: float = 0.0  # mean |2 * share of 1-votes - 1| over the bits: 0 a tie each, 1 unanimous
    balanced: float = 0.0  # the balanced share of matched bits (see balanced_accuracy); 1.0 for a text

    @property
    def where(self) -> str:
        return WHERE.format(order=self.channel_order.upper())

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "scheme": self.scheme,
            "matched_bits": self.matched_bits,
            "total_bits": self.total_bits,
            "verdict": self.verdict,
            "p_false_positive": self.p_false_positive,
            "channel_order": self.channel_order,
        }
        if self.scheme == SDXL.name:
            data["stability_verdict"] = sdxl_verdict(self.matched_bits)  # Stability's reading, one order
        if self.decoded_text is not None:
            data["decoded_text"] = self.decoded_text
        data["vote_clarity"] = round(self.clarity, 3)
        data["note"] = ABSENCE_NOTE
        return data


def balanced_accuracy(bits: npt.NDArray[np.uint8], message: npt.NDArray[np.uint8]) -> float:
    """The mean of the shares of the message's 1-bits and 0-bits read right: 0.5 for a decode that is all ones
    or all zeros (a flat picture's), 1.0 for a clean mark."""
    ones = message == 1
    hit_ones = float((bits[ones] == 1).mean()) if ones.any() else 1.0
    hit_zeros = float((bits[~ones] == 0).mean()) if (~ones).any() else 1.0
    return (hit_ones + hit_zeros) / 2


#: Stability's SDXL thresholds (28, 34, 36 of 48) as shares, for messages without published thresholds.
SHARE_LEVELS = ((36 / 48, "very likely"), (34 / 48, "likely"), (28 / 48, "partial"))


def share_verdict(share: float) -> str:
    """A verdict from the balanced share of matched bits, at the shares of Stability's SDXL thresholds."""
    for level, verdict in SHARE_LEVELS:
        if share >= level:
            return verdict
    return "none"


def score_scheme(scheme: Scheme, votes_by_order: dict[str, Votes]) -> WatermarkScore:
    """The scheme's best match over the channel orders (ties: the first order). SDXL is judged by Stability's
    thresholds on matched bits; the others by their balanced share of matched bits (so that a decode of all
    zeros, as flat pictures give, never counts), with the binomial chance probability reported beside."""
    best: tuple[int, str, float, float] | None = None
    total = int(scheme.bits.size)
    for order, votes in votes_by_order.items():
        bits, share = tally(votes, total)
        matched = int((bits == scheme.bits).sum())
        if best is None or matched > best[0]:
            best = (matched, order, balanced_accuracy(bits, scheme.bits), _clarity(share))
    assert best is not None
    matched, order, balanced, clarity = best
    p = min(1.0, p_at_least(matched, total) * len(votes_by_order))  # the best of the orders tried
    verdict = scheme_verdict(scheme, matched, balanced, p)
    votes_per_bit = next(iter(votes_by_order.values())).size / total
    if not clear_enough(clarity, votes_per_bit):
        verdict = weaker(verdict, "partial")  # bits matched by a near tie of votes: chance, never stored
    return WatermarkScore(scheme.name, matched, total, verdict, p, order, clarity=clarity, balanced=balanced)


#: A stored verdict needs its bits voted this many times more clearly than chance gives (see clear_enough).
CLARITY_OVER_CHANCE = 3.0
#: ... and at least this clarity, whatever the number of votes.
MIN_CLARITY = 0.25


def clear_enough(clarity: float, votes_per_bit: float) -> bool:
    """Whether a reading's bits were voted clearly enough for a verdict worth storing. A mark makes each bit's
    blocks vote (nearly) one way (clarity near 1 on a clean copy); on an unmarked picture each bit's votes are
    coin flips, whose mean ``|2 * share - 1|`` is about ``sqrt(2 / (pi * n))`` for ``n`` votes a bit (0.09 at
    512x512 for SDXL). Matched bits on near-tied votes are how a chance "likely" arises (about one unmarked
    picture in 500 reaches 35 of 48), so those are capped at "partial"."""
    chance = math.sqrt(2 / (math.pi * max(votes_per_bit, 1.0)))
    return clarity >= max(MIN_CLARITY, CLARITY_OVER_CHANCE * chance)


def _clarity(share: npt.NDArray[np.float64]) -> float:
    clear = np.abs(2 * share - 1)
    clear[np.isnan(clear)] = 0.0  # a bit without votes is no clearer than a tie
    return float(clear.mean())


def read_text(votes_by_order: dict[str, Votes]) -> WatermarkScore | None:
    """A printable text message of 4-32 bytes, or None: the length whose bits are most clearly voted (a message
    read at a multiple of its length is as clear: the shortest of the clearest is taken), when that clarity is
    well above an unmarked picture's and the text is printable ASCII."""
    tries = len(TEXT_LENGTHS) * len(votes_by_order)
    found: list[tuple[float, int, str, npt.NDArray[np.uint8]]] = []
    for nbytes in TEXT_LENGTHS:
        for order, votes in votes_by_order.items():
            if votes.size < nbytes * 8:
                continue
            bits, share = tally(votes, nbytes * 8)
            clarity = _clarity(share)
            if clarity >= TEXT_MIN_CLARITY:
                found.append((clarity, nbytes, order, bits))
    if not found:
        return None
    clearest = max(c for c, _, _, _ in found)
    clarity, nbytes, order, bits = min((f for f in found if f[0] >= clearest - 0.05), key=lambda f: f[1])
    data = np.packbits(bits).tobytes()
    text = data.decode("latin-1")
    if not all(0x20 <= b < 0x7F for b in data) or len(set(text)) < 3 or not any(c.isalpha() for c in text):
        return None  # unprintable, or a pattern (stripes read as 'UUUU') rather than a message
    # chance bound: every length and order tried, each byte printable with probability 95/256 (the vote
    # clarity, which an unmarked picture rarely shows, is not counted: the bound is conservative)
    p = min(1.0, tries * (95 / 256) ** nbytes)
    return WatermarkScore(TEXT_SCHEME, nbytes * 8, nbytes * 8, text_verdict(p), p, order, text, clarity, 1.0)


def check_size(width: int, height: int) -> str | None:
    """Why a picture of this size cannot be read (the package's own minimum), or None."""
    if width * height < MIN_PIXELS:
        return f"{width}x{height} is under invisible-watermark's minimum of 256x256 pixels"
    if (height // 8) * (width // 8) < 136:  # too few 4x4 LL blocks for the longest message
        return f"{width}x{height} has too few 8x8 pixel blocks to hold a message"
    return None


#: Blocks read first, in rows spread over the picture (its top alone may be sky, where a mark is weakest); the
#: rest is read only when these look marked (see decode).
PRESCREEN_BLOCKS = 1024
#: What "looks marked" in the sampled blocks: any scheme's chance probability at most this (ten times SDXL's
#: "likely" level: a mark the whole picture would rate likely shows in 1024 blocks, where each bit still has
#: 7 votes (SD 1.x's 136 bits) to 32 (SD 2.x's), or a text read. Unmarked pictures pass at about this rate per scheme.
PRESCREEN_P = 0.02
#: A text mark shows in the prescreen as fewer 1-votes in every byte's high bit (0 in ASCII) than in the other
#: bits: a share at least this much below theirs (an unmarked picture's shares differ by a few hundredths).
ASCII_HIGH_BIT_GAP = 0.12
#: Verdicts a scan stores. "partial" is not: on unmarked pictures, with two channel orders and three messages
#: tried, a partial match by chance is common (Stability's 28 of 48 alone: about one picture in six per order).
STORED_VERDICTS = ("likely", "very likely")


def decode(
    pixels: npt.NDArray[np.uint8],
    schemes: Sequence[Scheme] = SCHEMES,
    orders: Sequence[str] = ORDERS,
    prescreen: bool = True,
) -> list[WatermarkScore]:
    """Every scheme's score (verdict "none" included; at most one above it) and a text message when one reads;
    ``pixels`` is HxWx3 RGB of at least :data:`MIN_PIXELS` (see :func:`check_size`).

    With ``prescreen`` (the scan's way), a large picture's blocks are first read in :data:`PRESCREEN_BLOCKS`
    spread over evenly spaced rows; when no scheme's chance probability there is at most :data:`PRESCREEN_P`
    and the votes do not look like ASCII text (:func:`looks_ascii`), those scores (none worth storing; no text
    read) are returned and the rest is never read. Otherwise,
    and for small pictures, every block is read: the scores are then exactly the package decoder's reading."""
    height, width = pixels.shape[:2]
    nrows, per_row = height // 4 * 4 // 8, width // 8
    wanted = -(-PRESCREEN_BLOCKS // per_row) if per_row else 0
    if prescreen and wanted > 0 and wanted * 2 <= nrows:  # only where it reads half or less
        block_rows = np.arange(0, nrows, nrows // wanted)[:wanted]
        sampled = sampled_votes(pixels, block_rows, orders)
        first = _score_all(sampled, schemes, text=False)
        if not any(s.verdict in STORED_VERDICTS or s.p_false_positive <= PRESCREEN_P for s in first) and not any(
            looks_ascii(v) for v in sampled.values()
        ):
            return first
    return _score_all(dict(orders_votes(pixels, orders)), schemes)


def looks_ascii(votes: Votes) -> bool:
    """Whether the votes look like an ASCII text of any length: read as 8-bit messages, the first bit (every
    ASCII byte's high bit, whatever the text's length) has clearly fewer 1-votes than the others (the
    package's encoder writes 0-bits less reliably than 1-bits, so "clearly fewer", not "none"); an unmarked
    picture's eight shares are alike, a flat picture's all 0."""
    _, share = tally(votes, 8)
    return bool(np.nanmean(share[1:]) - share[0] >= ASCII_HIGH_BIT_GAP)


def _score_all(votes: dict[str, Votes], schemes: Sequence[Scheme], text: bool = True) -> list[WatermarkScore]:
    scores = [score_scheme(scheme, votes) for scheme in schemes]
    if not text:
        return _exclusive(scores)
    found = read_text(votes)
    known = {scheme.name: np.packbits(scheme.bits).tobytes() for scheme in schemes}
    if found is not None and any(  # the text is a known message already scored: no second finding
        s.verdict != "none" and known[s.scheme] == (found.decoded_text or "").encode("ascii") for s in scores
    ):
        found = None
    return _exclusive(scores + ([found] if found is not None else []))


def _exclusive(scores: list[WatermarkScore]) -> list[WatermarkScore]:
    """A picture holds one dwtDct mark at most (embedding overwrites the coefficients), and messages share
    structure (ASCII texts agree on every eighth bit; a message read at another length still half agrees): of
    the scores above "none", only the one whose bits are most clearly voted stays (a mark is clearest at its
    own length; a known message before a text read at the same length); the others are turned to "none"."""
    positive = [s for s in scores if s.verdict != "none"]
    if len(positive) <= 1:
        return scores
    best = max(positive, key=lambda s: (round(s.clarity, 9), s.scheme != TEXT_SCHEME))
    return [
        s
        if s is best or s.verdict == "none"
        else WatermarkScore(
            s.scheme,
            s.matched_bits,
            s.total_bits,
            "none",
            s.p_false_positive,
            s.channel_order,
            s.decoded_text,
            s.clarity,
            s.balanced,
        )
        for s in scores
    ]


# -- writing (the demo and tests make benign marked pictures where the package is not installed) -------------


def embed(pixels: npt.NDArray[np.uint8], bits: npt.NDArray[np.uint8], order: str = "bgr") -> npt.NDArray[np.uint8]:
    """A copy of ``pixels`` (HxWx3 RGB) carrying ``bits`` the way the package's dwtDct encoder puts them (each
    block's peak coefficient moved to the quarter or three-quarter point of its scale step), changing only U:
    the blue channel (red for ``order`` "rgb") and a little green, so luma stays. Readable by the package's
    decoder and :func:`decode`; not bit-identical to the package's encoder output."""
    height, width = pixels.shape[:2]
    h4, w4 = height // 4 * 4, width // 4 * 4
    u = u_channel(pixels[:h4, :w4], order).astype(np.float64)
    ll = haar_ll(u)
    blocks = _blocks(ll)
    ranked = np.sort(np.abs(blocks[:, 1:]), axis=1)
    peaks = np.abs(blocks[:, 1:]).argmax(axis=1) + 1
    index = np.arange(blocks.shape[0])
    value = blocks[index, peaks]
    wanted = bits[index % bits.size].astype(np.float64)
    magnitude = (np.floor(np.abs(value) / SCALE) + 0.25 + 0.5 * wanted) * SCALE
    # unlike the package's encoder, keep the peak the block's peak (a step up when it would fall below the
    # runner-up), so the decoder reads the coefficient that was set
    magnitude = np.where(magnitude < ranked[:, -2] + 2.0, magnitude + SCALE, magnitude)
    delta_blocks = np.zeros_like(blocks)
    delta_blocks[index, peaks] = np.where(value >= 0, magnitude, -magnitude) - value
    nr, nc = ll.shape[0] // BLOCK, ll.shape[1] // BLOCK
    delta_ll = np.zeros_like(ll)
    delta_ll[: nr * BLOCK, : nc * BLOCK] = (
        delta_blocks.reshape(nr, nc, BLOCK, BLOCK).transpose(0, 2, 1, 3).reshape(nr * BLOCK, nc * BLOCK)
    )
    # a change d of an LL coefficient is a change d/2 of each of its four pixels (inverse Haar, detail kept)
    delta_u = np.repeat(np.repeat(delta_ll / 2.0, 2, axis=0), 2, axis=1)
    blue_i = 2 if order == "bgr" else 0
    out = pixels.astype(np.float64)
    delta_blue = delta_u / 0.492  # U = 0.492 (B - Y): with Y kept, B moves by dU / 0.492
    out[:h4, :w4, blue_i] += delta_blue
    out[:h4, :w4, 1] -= delta_blue * 0.114 / 0.587  # G compensates so Y = .299 R + .587 G + .114 B stays
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
