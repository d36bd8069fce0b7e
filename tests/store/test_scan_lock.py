"""Two scans of one evidence into one case: the second is refused (exit 2, naming the first), the first
finishes intact. A damaged case.db is named as damaged, with what to do, never a traceback."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from cairn.cli.main import app
from cairn.store import CaseStore
from cairn.store.locks import ScanInProgress

from .helpers import raw_engine

FILES = 300


def _cairn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cairn.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def _evidence(tmp_path: Path) -> Path:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for i in range(FILES):
        (evidence / f"note-{i:04d}.txt").write_bytes(f"benign note {i}\n".encode())
    return evidence


def _running_run(case: Path, db_url: str | None) -> int | None:
    """The id of a running scan run, or None (also while the database does not exist yet)."""
    if db_url is None and not (case / "case.db").exists():
        return None
    engine = raw_engine(case, db_url)
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT id FROM scan_runs WHERE status = 'running'")).scalar()
            return None if found is None else int(found)
    except Exception:  # tables not made yet
        return None
    finally:
        engine.dispose()


def _sqlite_write_lock_free(case: Path) -> bool:
    conn = sqlite3.connect(case / "case.db", timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


def _pause_while_scanning(first: subprocess.Popen[str], case: Path, db_url: str | None) -> int:
    """SIGSTOP the first scan once its run is running and it is between database writes; return the run id."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert first.poll() is None, f"the first scan ended early: {first.communicate()}"
        run = _running_run(case, db_url)
        if run is not None:
            os.kill(first.pid, signal.SIGSTOP)
            if db_url is not None or _sqlite_write_lock_free(case):
                return run
            os.kill(first.pid, signal.SIGCONT)  # stopped inside a write: let it finish that one
        time.sleep(0.005)
    raise AssertionError("the first scan never started its run")


def test_a_second_scan_of_the_same_evidence_is_refused(tmp_path: Path, db_url: str | None) -> None:
    evidence, case = _evidence(tmp_path), tmp_path / "case"
    db = ["--db", db_url] if db_url else []
    common = ["--case", str(case), *db, "--workers", "1", "--batch", "1", "--no-progress"]
    first = _cairn("scan", str(evidence), *common)
    try:
        run = _pause_while_scanning(first, case, db_url)
        second = _cairn("scan", str(evidence), *common)
        out, err = second.communicate(timeout=60)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    first_out, first_err = first.communicate(timeout=120)
    assert second.returncode == 2, (out, err)
    assert "Not scanned:" in err and "another cairn scan of" in err and "Traceback" not in err
    holder = f"pid {first.pid}" if db_url is None else f"run #{run}"
    assert holder in err, err
    assert first.returncode == 0, first_err
    assert "Traceback" not in first_err
    with CaseStore.open(case, db_url) as store:
        assert store.counts()["files"] == FILES
        assert [r["status"] for r in store.runs()] == ["completed"]
        assert store.audit_verify() == []


def test_scans_of_other_evidence_are_not_blocked(tmp_path: Path, db_url: str | None) -> None:
    with CaseStore.open(tmp_path / "case", db_url) as store:
        with store.scan_lock("/evidence/one"):
            with store.scan_lock("/evidence/two"):
                pass
            with (
                pytest.raises(ScanInProgress, match="another cairn scan of /evidence/one"),
                CaseStore.open(tmp_path / "case", db_url) as other,
                other.scan_lock("/evidence/one"),
            ):
                pass
        with store.scan_lock("/evidence/one"):  # released
            pass


def _made_case(tmp_path: Path) -> Path:
    evidence = tmp_path / "small"
    evidence.mkdir()
    (evidence / "a.txt").write_text("benign\n", encoding="utf-8")
    case = tmp_path / "case"
    result = CliRunner().invoke(app, ["scan", str(evidence), "--case", str(case), "--no-progress", "--workers", "1"])
    assert result.exit_code == 0, result.output
    return case


@pytest.mark.parametrize("damage", ["random", "truncated", "emptied"])
@pytest.mark.parametrize("command", [["files"], ["audit", "verify"], ["runs"], ["scan"]])
def test_a_damaged_case_db_is_named_not_a_traceback(tmp_path: Path, damage: str, command: list[str]) -> None:
    case = _made_case(tmp_path)
    db = case / "case.db"
    size = db.stat().st_size
    if damage == "random":
        db.write_bytes(os.urandom(8192))
    elif damage == "truncated":
        with db.open("r+b") as fh:
            fh.truncate(4096 if size > 4096 else size // 2)
    else:
        db.write_bytes(b"")
    args = [*command, str(tmp_path / "small")] if command == ["scan"] else command
    result = CliRunner().invoke(app, [*args, "--case", str(case)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"the case database {db} is damaged" in result.output
    assert "Restore case.db from the exhibit copy" in result.output
