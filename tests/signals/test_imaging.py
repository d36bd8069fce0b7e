"""The one decode: --fast-pdq reductions never go below 512 px on the short side."""

from __future__ import annotations

import pytest

from cairn.signals.imaging import FAST_PDQ_MIN_SIDE, fast_pdq_scale


@pytest.mark.parametrize(
    ("size", "scale"),
    [
        ((600, 500), 1),  # too small to reduce at all
        ((1600, 1200), 2),  # only half scale keeps 512
        ((3000, 2000), 2),
        ((4000, 3000), 2),  # quarter scale would keep 750 px but drift; half keeps the 1024 target
        ((8000, 6000), 4),
        ((20000, 15000), 8),
    ],
)
def test_fast_pdq_scale(size: tuple[int, int], scale: int) -> None:
    assert fast_pdq_scale(*size) == scale


def test_fast_pdq_never_below_the_floor() -> None:
    for short in range(100, 20000, 7):
        scale = fast_pdq_scale(short * 2, short)
        assert scale in (1, 2, 4, 8)
        assert scale == 1 or short // scale >= FAST_PDQ_MIN_SIDE, short
