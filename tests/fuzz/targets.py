"""Fuzz targets shared by the bounded CI run (hypothesis, ``test_fuzz.py``) and the long run (atheris,
``bench/fuzz_long.py``): one call per input, raising ``AssertionError`` when a promise breaks.

Promises checked on every input: nothing raises out of the sources or the per-item task; every recorded
code is declared; logical paths are unique; digests are those of the bytes examined; expansion stays
inside the limits; no spool file is left behind; a picture never fails a signal.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from cairn.errors import ALL_CODES, SIGNAL_FAILED
from cairn.model import EvidenceItem, FileResult, ItemMeta, Locator
from cairn.pipeline.task import process_item
from cairn.settings import Limits, ScanSettings
from cairn.sources.containers import expand

#: Small limits so a hostile input is refused quickly and a run stays light.
LIMITS = Limits(
    max_member_size=16 * 1024**2,
    max_archive_total=48 * 1024**2,
    max_archive_members=5_000,
    in_memory_member_size=256 * 1024,
    max_image_pixels=16_000_000,
    decode_memory_budget=512 * 1024**2,  # explicit: the machine default would make runs differ by machine
    item_timeout=0,  # the targets run in-process; hangs are caught by the runner (watchdog, libFuzzer -timeout)
)
SETTINGS = ScanSettings(limits=LIMITS, thumbnail_size=64)

#: Expansion no input may exceed in all, across every level of nesting.
MAX_EXPANSION = LIMITS.max_archive_total * (LIMITS.max_archive_depth + 1)


@contextmanager
def _spool_dir() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="cairn-fuzz-") as folder:
        yield folder
        left = os.listdir(folder)
        assert not left, f"spool files left behind: {left}"


def _content(item: EvidenceItem) -> bytes | None:
    if item.data is not None:
        return item.data
    if item.spool_path is not None:
        with open(item.spool_path, "rb") as fh:
            return fh.read()
    return None


def _check_result(result: FileResult, content: bytes | None) -> None:
    for err in result.errors:
        assert err.code in ALL_CODES and err.message, (result.path, err)
    if content is not None and "sha256" in result.hashes:
        assert result.hashes["sha256"] == hashlib.sha256(content).hexdigest(), result.path


def container_target(data: bytes, name: str = "evidence.bin") -> list[FileResult]:
    """Expand ``data`` as a top-level file and run the per-item task on every item it yields."""
    results: list[FileResult] = []
    seen: set[str] = set()
    expanded = 0
    with _spool_dir() as spool:
        meta = ItemMeta(size=len(data))
        items = expand(Locator((name,)), meta, io.BytesIO(data), LIMITS, None, spool, data=data)
        for item in items:
            assert item.locator.path not in seen, f"two items share the path {item.locator.path!r}"
            seen.add(item.locator.path)
            content = _content(item)
            if item.locator.depth and content is not None:
                expanded += len(content)
                assert expanded <= MAX_EXPANSION, f"expanded {expanded} bytes from {len(data)}"
            result = process_item(item, SETTINGS)
            _check_result(result, content)
            results.append(result)
    assert results and results[-1].locator.depth == 0, "the file itself must come last"
    return results


def picture_target(data: bytes, name: str = "picture.bin") -> FileResult:
    """Run the per-item task on ``data`` as a picture file (the name's extension does not steer decoding)."""
    item = EvidenceItem(locator=Locator((name,)), meta=ItemMeta(size=len(data)), data=data)
    result = process_item(item, SETTINGS)
    _check_result(result, data)
    assert not any(e.code == SIGNAL_FAILED for e in result.errors), result.errors
    return result
