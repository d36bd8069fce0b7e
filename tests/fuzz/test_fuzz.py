"""Bounded fuzzing of every container and picture path (hypothesis): mutated seeds must keep every promise.

The same targets run for longer, coverage-guided, in ``bench/fuzz_long.py`` (atheris); figures in
``docs/fuzzing.md``. Here the run is bounded by example count; a hang is caught by a per-example watchdog
(a hang, not a speed assertion: the limit is far above any normal input).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .seeds import CONTAINER_SEEDS, PICTURE_SEEDS, hash_set_seeds
from .targets import container_target, hash_set_target, picture_target

HANG_SECONDS = 60
EXAMPLES = 300


@contextmanager
def _watchdog(seconds: int) -> Iterator[None]:
    def hung(signum: int, frame: FrameType | None) -> None:
        raise AssertionError(f"input still being processed after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` with a few structural mutations: flips, overwrites, cuts, inserts, repeats, huge numbers."""
    out = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        if not out:
            break
        pos = draw(st.integers(0, len(out) - 1))
        op = draw(st.sampled_from(["flip", "overwrite", "cut", "insert", "repeat", "max", "zero"]))
        if op == "flip":
            out[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "overwrite":
            junk = draw(st.binary(min_size=1, max_size=32))
            out[pos : pos + len(junk)] = junk
        elif op == "cut":
            del out[max(1, pos) :]
        elif op == "insert":
            out[pos:pos] = draw(st.binary(min_size=1, max_size=600))
        elif op == "repeat":
            length = draw(st.integers(1, 2048))
            out[pos:pos] = out[pos : pos + length] * draw(st.integers(1, 4))
        elif op == "max":
            out[pos : pos + 4] = b"\xff\xff\xff\x7f"
        else:
            out[pos : pos + 8] = bytes(8)
    return bytes(out)


_FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@pytest.mark.parametrize("kind", sorted(CONTAINER_SEEDS))
def test_containers_keep_every_promise_under_mutation(kind: str) -> None:
    seed = CONTAINER_SEEDS[kind]()
    container_target(seed)  # the seed itself is well formed

    @_FUZZ
    @given(mutated(seed))
    def run(data: bytes) -> None:
        with _watchdog(HANG_SECONDS):
            container_target(data)

    run()


@pytest.mark.parametrize("kind", sorted(PICTURE_SEEDS))
def test_pictures_keep_every_promise_under_mutation(kind: str) -> None:
    seed = PICTURE_SEEDS[kind]()
    assert picture_target(seed).image is not None

    @_FUZZ
    @given(mutated(seed))
    def run(data: bytes) -> None:
        with _watchdog(HANG_SECONDS):
            picture_target(data)

    run()


@pytest.mark.parametrize("kind", sorted(hash_set_seeds()))
def test_hash_set_formats_keep_every_promise_under_mutation(
    kind: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    seed = hash_set_seeds()[kind]
    folder = tmp_path_factory.mktemp(f"hashset-{kind}")
    assert hash_set_target(seed, folder) > 0  # the seed itself is read

    @_FUZZ
    @given(mutated(seed))
    def run(data: bytes) -> None:
        with _watchdog(HANG_SECONDS):
            hash_set_target(data, folder)

    run()
