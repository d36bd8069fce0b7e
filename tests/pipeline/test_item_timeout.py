"""Issue 10 item 5: an item that runs past its wall-clock budget gets ``timeout``, its worker is killed and
replaced, the other items in flight are not lost, and the scan goes on.

The slow item is real: a small (~500 KB) progressive JPEG whose last scan is repeated thousands of times,
so libjpeg works for many seconds on it, as a 3.2 MB JPEG with 25,000 scans did for 124 s.
"""

from __future__ import annotations

import hashlib
import io
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from cairn import errors
from cairn.model import EvidenceItem, FileResult, ItemMeta, Locator
from cairn.pipeline.executor import LocalPoolExecutor, Lost, make_executor
from cairn.pipeline.scan import scan
from cairn.pipeline.task import item_budget, lost_result, process_item
from cairn.settings import Limits, ScanSettings
from cairn.store.case_store import CaseStore
from tests.pipeline.pool_helpers import lost_marker, sleep_or_square


def _jpeg_segments(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(start, end, marker) of each segment after SOI; a scan runs to the next marker that is not data."""
    at = 2
    while at < len(data):
        marker = data[at + 1]
        if marker == 0xD9:
            return
        end = at + 2 + struct.unpack(">H", data[at + 2 : at + 4])[0]
        if marker == 0xDA:
            while True:
                end = data.index(b"\xff", end)
                if data[end + 1] == 0 or 0xD0 <= data[end + 1] <= 0xD7:
                    end += 2
                    continue
                break
        yield at, end, marker
        at = end


def slow_jpeg(repeats: int = 30_000, side: int = 2048) -> bytes:
    """A flat grey progressive JPEG with its smallest scan repeated: each repeat costs a pass over every block."""
    buf = io.BytesIO()
    Image.new("L", (side, side), 128).save(buf, "JPEG", progressive=True, quality=90)
    data = buf.getvalue()
    scans = [(a, b) for a, b, marker in _jpeg_segments(data) if marker == 0xDA]
    start, end = min(scans[1:], key=lambda s: s[1] - s[0])
    return data[:end] + data[start:end] * repeats + data[end:]


def test_the_slow_jpeg_really_is_slow_but_valid() -> None:
    small = slow_jpeg(repeats=200, side=256)
    im = Image.open(io.BytesIO(small))
    im.load()
    assert im.size == (256, 256) and im.getextrema() == (128, 128)


def test_a_hanging_decode_gets_timeout_and_the_scan_goes_on(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "slow.jpg").write_bytes(slow_jpeg())
    others = {f"note{i}.txt": f"benign text {i}\n".encode() * 50 for i in range(12)}
    for name, data in others.items():
        (evidence / name).write_bytes(data)
    settings = ScanSettings(workers=2, limits=Limits(item_timeout=1.0, item_timeout_per_gib=0.0))
    with CaseStore.open(tmp_path / "case") as store:
        summary = scan(evidence, store, settings, show_progress=False)
        rows = {row["path"]: row for row in store.iter_file_rows(summary.evidence_id)}
        runs = store.runs()
    assert summary.status == "completed" and summary.files == 13
    assert summary.error_codes == {errors.TIMEOUT: 1}
    assert rows["slow.jpg"]["sha256"] is None
    for name, data in others.items():
        assert rows[name]["sha256"] == hashlib.sha256(data).hexdigest()
    assert runs[-1]["settings"]["limits"]["item_timeout"] == 1.0  # recorded with the run


def test_the_pool_kills_only_the_late_worker_and_loses_nothing() -> None:
    pool = LocalPoolExecutor(2, in_flight_per_worker=3)
    items = [1, 2, -1, 3, 4, 999, 5, 6, -2, 7, 8, 9, 10]
    try:
        results = list(pool.map_unordered(sleep_or_square, items, budget=lambda x: 1.0, on_lost=lost_marker))
        assert pool.replaced == 3
        again = list(pool.map_unordered(sleep_or_square, range(20)))  # the replaced workers work
    finally:
        pool.close()
    assert sorted(results) == sorted([-1000, -1000, -2000] + [x * x for x in items if 0 <= x < 999])
    assert sorted(again) == [x * x for x in range(20)]


def test_one_worker_with_a_timeout_is_a_process(tmp_path: Path) -> None:
    """workers=1 runs inline only when no timeout is asked for: an item timeout needs a separate process."""
    assert make_executor(1).name == "inline"
    pool = make_executor(1, isolate=True)
    try:
        assert pool.name == "local-processes" and pool.workers == 1
    finally:
        pool.close()


def test_a_timed_out_item_keeps_its_source_errors_and_loses_its_spool(tmp_path: Path) -> None:
    spool = tmp_path / "spooled.bin"
    spool.write_bytes(b"x" * 100)
    err = errors.item_error(errors.PATH_TRAVERSAL, "../x")
    item = EvidenceItem(Locator(("a.zip", "../x")), ItemMeta(size=100), spool_path=str(spool), errors=(err,))
    result: FileResult = lost_result(item, Lost("timeout", 3.2, "ran 3.2 s, past its budget"))
    assert [e.code for e in result.errors] == [errors.PATH_TRAVERSAL, errors.TIMEOUT]
    assert not spool.exists() and result.hashes == {}
    assert item_budget(item, Limits(item_timeout=10, item_timeout_per_gib=60)) == pytest.approx(10 + 60 * 100 / 1024**3)
    assert item_budget(item, Limits(item_timeout=0)) is None
    assert process_item is not None
