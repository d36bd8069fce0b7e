"""Streaming: a 200,000-record VICS file is read record by record, in memory far below its size."""

from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path
from typing import TextIO

from cairn.matching.formats import ReadReport, read_hash_set
from cairn.matching.formats.vics import CONTEXT_2_0
from cairn.matching.schemes import category

ROWS = 200_000


def generated(out: TextIO) -> None:
    """A VICS 2.0 hash set of benign records (the MD5s of the texts "item 0", "item 1", ...), written as text."""
    out.write('{"@odata.context": "' + CONTEXT_2_0.format(variant="US", entity="Media") + '",\n"value": [\n')
    for n in range(ROWS):
        comma = ",\n" if n else ""
        out.write(f'{comma}{{"MD5": "{hashlib.md5(b"item %d" % n).hexdigest()}", "Category": {n % 5}, "MediaID": {n}}}')
    out.write("\n]}\n")


def test_200k_record_vics_read_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    with path.open("w", encoding="utf-8") as out:
        generated(out)
    size = path.stat().st_size
    report = ReadReport()
    count = 0
    last = ""
    tracemalloc.start()
    try:
        for record in read_hash_set(path, report=report):
            count += 1
            last = record.hashes["md5"]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == ROWS == report.records and report.warning_count == 0
    assert last == hashlib.md5(b"item %d" % (ROWS - 1)).hexdigest() and record.category == category("vic-us", 4)
    assert size > 12_000_000
    assert peak < size // 20, (peak, size)  # measured: under 0.5 MB of allocations, 14 MB file
