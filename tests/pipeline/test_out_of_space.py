"""A full temp disk stops the scan; it is never blamed on the evidence, and a resume redoes the rest
(issue 10, item 17).

No small file system can be mounted here, so the temp disk is made small in the one place cairn writes
to it: the spool file's ``write`` fails with ENOSPC once a few hundred KB are written, as a full disk's
does (a test-only wrapper around the real temporary file; the engine's own code is what is tried).
"""

from __future__ import annotations

import errno
import functools
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cairn.cli.main import app
from cairn.pipeline.scan import scan
from cairn.settings import Limits, ScanSettings
from cairn.sources.base import OutOfSpace
from cairn.store import CaseStore
from tests.sources import blob, write, zip_bytes

SETTINGS = ScanSettings(workers=1, limits=Limits(in_memory_member_size=64 * 1024))
_REAL = tempfile.NamedTemporaryFile


def _small_disk(monkeypatch: pytest.MonkeyPatch, free: int) -> None:
    """Spool files share ``free`` bytes; a write past them fails with ENOSPC, as on a full disk."""
    left = [free]

    def named_temporary_file(*args: Any, **kwargs: Any) -> Any:
        f = _REAL(*args, **kwargs)
        write_all = f.write

        def write_or_fail(data: bytes) -> int:
            if len(data) > left[0]:
                raise OSError(errno.ENOSPC, "No space left on device")
            left[0] -= len(data)
            return int(write_all(data))

        f.write = write_or_fail  # type: ignore[method-assign,assignment]
        return f

    monkeypatch.setattr("cairn.sources.containers.tempfile.NamedTemporaryFile", named_temporary_file)


def _evidence(root: Path) -> Path:
    write(root / "a.txt", b"first")
    members = [("m0.txt", b"small"), ("big1.bin", blob(1, 300_000)), ("big2.bin", blob(2, 300_000))]
    write(root / "b.zip", zip_bytes(members, zipfile.ZIP_STORED))
    write(root / "c.txt", b"last")
    return root


def _rows(case: Path, db_url: str | None = None) -> dict[str, tuple[Any, ...]]:
    with CaseStore.open(case, db_url) as store:
        return {r["path"]: (r["sha256"], r["size"], r["error"]) for r in store.iter_file_rows()}


def test_a_full_temp_disk_stops_the_scan_and_the_resume_redoes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str | None
) -> None:
    evidence = _evidence(tmp_path / "evidence")
    with CaseStore.open(tmp_path / "clean", db_url) as store:
        scan(evidence, store, SETTINGS, show_progress=False)
    clean = _rows(tmp_path / "clean", db_url)

    case = tmp_path / "case"
    with monkeypatch.context() as m:
        _small_disk(m, free=400_000)  # big1 fits, big2 does not
        with CaseStore.open(case, db_url) as store, pytest.raises(OutOfSpace) as caught:
            scan(evidence, store, SETTINGS, show_progress=False, batch_items=1)
    assert caught.value.errno == errno.ENOSPC and "--temp-dir" in str(caught.value)
    stopped = _rows(case, db_url)
    assert "b.zip!/big2.bin" not in stopped and "b.zip" not in stopped and "c.txt" not in stopped
    assert all(row[2] is None for row in stopped.values())  # never archive_corrupt: nothing is blamed
    with CaseStore.open(case, db_url) as store:
        assert [r["status"] for r in store.runs()] == ["interrupted"]
        summary = scan(evidence, store, SETTINGS, show_progress=False)
    assert summary.status == "completed" and summary.path_collisions == 0
    assert _rows(case, db_url) == clean


def test_the_cli_says_so_and_exits_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    evidence = _evidence(tmp_path / "evidence")
    _small_disk(monkeypatch, free=1000)
    # the CLI's settings, with the small in-memory limit that makes members spool
    small = functools.partial(Limits, in_memory_member_size=SETTINGS.limits.in_memory_member_size)
    monkeypatch.setattr("cairn.settings.Limits", small)
    result = CliRunner().invoke(
        app, ["scan", str(evidence), "--case", str(tmp_path / "case"), "--workers", "1", "--no-progress"]
    )
    assert result.exit_code == 3, result.output
    assert "Out of space" in result.output and "resume" in result.output
