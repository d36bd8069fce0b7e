"""A scan leaves the evidence as it found it: contents, modification and access times of files and folders."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from PIL import Image

from cairn.pipeline.scan import scan
from cairn.settings import ScanSettings
from cairn.store import CaseStore

OLD = 1_000_000_000  # 2001: older than a day, so a relatime mount would update it on any plain read


def _times(paths: list[str]) -> dict[str, tuple[int, int]]:
    """lstat only: listing a folder here would itself move its access time."""
    return {p: (os.lstat(p).st_atime_ns, os.lstat(p).st_mtime_ns) for p in paths}


def test_scan_changes_no_access_or_modification_time(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    (evidence / "photos" / "2001").mkdir(parents=True)
    Image.new("RGB", (80, 60), (10, 120, 200)).save(evidence / "photos" / "2001" / "a.jpg")
    (evidence / "notes.txt").write_text("a red bicycle on a beach")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("inner/b.txt", "benign")
    (evidence / "bundle.zip").write_bytes(buf.getvalue())
    paths = [str(evidence)] + [os.path.join(d, n) for d, dirs, files in os.walk(evidence) for n in [*dirs, *files]]
    for path in paths:
        os.utime(path, (OLD, OLD))
    before = _times(paths)
    assert {t for t in before.values()} == {(OLD * 10**9, OLD * 10**9)}

    with CaseStore.open(tmp_path / "case") as store:
        summary = scan(evidence, store, ScanSettings(workers=1), show_progress=False)
    assert summary.files == 4  # a.jpg, notes.txt, bundle.zip and its member
    assert _times(paths) == before
