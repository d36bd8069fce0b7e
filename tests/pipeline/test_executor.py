"""Executors: every item once, and the walk never runs more than the in-flight bound ahead (backpressure)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cairn.pipeline.executor import InlineExecutor, LocalPoolExecutor, make_executor, usable_cores


def square(x: int) -> int:
    return x * x


@pytest.mark.parametrize("workers", [1, 2])
def test_every_item_once_and_bounded_read_ahead(workers: int) -> None:
    produced = 0

    def items() -> Iterator[int]:
        nonlocal produced
        for i in range(200):
            produced += 1
            yield i

    executor = InlineExecutor() if workers == 1 else LocalPoolExecutor(workers, in_flight_per_worker=3)
    bound = 1 if workers == 1 else workers * 3
    consumed = 0
    results = []
    try:
        for result in executor.map_unordered(square, items()):
            consumed += 1
            results.append(result)
            assert produced - consumed < bound, "the source ran ahead of the workers"
    finally:
        executor.close()
    assert sorted(results) == [i * i for i in range(200)]


def test_make_executor_picks_inline_for_one_worker() -> None:
    assert make_executor(1).name == "inline"
    pool = make_executor(2)
    try:
        assert pool.name == "local-processes" and pool.workers == 2
    finally:
        pool.close()
    assert usable_cores() >= 1
