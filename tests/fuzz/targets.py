"""Fuzz targets shared by the bounded CI run (hypothesis, ``test_fuzz.py``) and the long run (atheris,
``bench/fuzz_long.py``): one call per input, raising ``AssertionError`` when a promise breaks.

Promises checked on every container and picture input: nothing raises out of the sources or the per-item
task; every recorded code is declared; logical paths are unique; digests are those of the bytes examined;
expansion stays inside the limits; no spool file is left behind; a picture never fails a signal. Hash sets
from partners are untrusted too: reading one in any format raises nothing but "not this format", and keeps
only valid hashes.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cairn.errors import ALL_CODES, SIGNAL_FAILED
from cairn.matching.formats import FORMATS, UnknownFormat, read_hash_set
from cairn.matching.formats.base import ReadOptions, ReadReport, WrongFormat
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


#: Hex length of each hash kind a hash-set record may carry.
_HEX_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "pdq": 64}


def hash_set_target(data: bytes, folder: Path) -> int:
    """Read ``data`` as a hash set in every format (and ``auto``): only ``WrongFormat``/``UnknownFormat`` may
    come out (a partner's file is untrusted input too), and every hash kept is normalised lower-case hex."""
    path = folder / "set.txt"
    path.write_bytes(data)
    kept = 0
    for name in ["auto", *(f.name for f in FORMATS)]:
        try:
            for record in read_hash_set(path, name, ReadOptions(), ReadReport()):
                for kind, value in record.hashes.items():
                    expected = _HEX_LENGTHS.get(kind)
                    assert value == value.lower() and (expected is None or len(value) == expected), (kind, value)
                    assert expected is None or all(c in "0123456789abcdef" for c in value), (kind, value)
                kept += 1
        except (WrongFormat, UnknownFormat):
            continue
    return kept
