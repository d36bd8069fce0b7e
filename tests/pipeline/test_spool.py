"""Large archive members are spooled under a per-scan folder that is removed after; dead scans' are swept."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from cairn.pipeline.scan import SPOOL_PREFIX, scan
from cairn.settings import Limits, ScanSettings
from cairn.store import CaseStore


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_spooled_members_leave_nothing_behind(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    big = os.urandom(300_000)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("big.bin", big)
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as zf:
        zf.writestr("inner.zip", inner.getvalue())
        zf.writestr("also-big.bin", big[::-1])
    (evidence / "bundle.zip").write_bytes(outer.getvalue())

    temp = tmp_path / "temp"
    stale = temp / f"{SPOOL_PREFIX}{_dead_pid()}"
    stale.mkdir(parents=True)
    (stale / "left-by-a-killed-scan").write_bytes(b"x")
    alive = temp / f"{SPOOL_PREFIX}{os.getppid()}"  # a running process's folder is never touched
    alive.mkdir()

    settings = ScanSettings(workers=1, temp_dir=str(temp), limits=Limits(in_memory_member_size=10_000))
    with CaseStore.open(tmp_path / "case") as store:
        summary = scan(evidence, store, settings, show_progress=False)
        rows = {r["path"]: r for r in store.iter_file_rows()}
    assert summary.files == 4 and summary.errors == 0
    assert rows["bundle.zip!/inner.zip!/big.bin"]["sha256"] == hashlib.sha256(big).hexdigest()
    assert rows["bundle.zip!/also-big.bin"]["sha256"] == hashlib.sha256(big[::-1]).hexdigest()
    assert sorted(p.name for p in temp.iterdir()) == [alive.name]
