"""A scan killed with SIGKILL mid-run, then run again, stores every file exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CAIRN = [sys.executable, "-m", "cairn.cli"]


def _evidence(root: Path, count: int) -> int:
    rng = np.random.default_rng(11)
    for i in range(count):
        folder = root / f"dir{i % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"pic{i:03d}.png")
    return count


def _stored_count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return int(con.execute("SELECT count(*) FROM files").fetchone()[0])
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def _rows(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as con:
        return con.execute(
            "SELECT f.path, f.size, h.value FROM files f JOIN file_hashes h ON h.file_id = f.id "
            "WHERE h.kind IN ('sha256', 'pdq') ORDER BY f.path, h.kind"
        ).fetchall()


def test_sigkill_mid_scan_then_resume_stores_each_file_once(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    total = _evidence(evidence, 150)
    case = tmp_path / "case"
    db = case / "case.db"
    cmd = [*CAIRN, "scan", str(evidence), "--case", str(case), "--workers", "1", "--batch", "3", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _stored_count(db) < 20:
        assert proc.poll() is None, "scan ended before it could be interrupted: " + proc.stderr.read().decode()
        assert time.monotonic() < deadline, "scan stored nothing in time"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    interrupted_at = _stored_count(db)
    assert 0 < interrupted_at < total, "the kill must land mid-scan for this test to mean anything"

    second = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr

    with sqlite3.connect(db) as con:
        paths = [r[0] for r in con.execute("SELECT path FROM files")]
        statuses = [r[0] for r in con.execute("SELECT status FROM scan_runs ORDER BY id")]
    assert len(paths) == total and len(set(paths)) == total
    assert statuses == ["interrupted", "completed"]

    # The resumed case holds exactly what one uninterrupted scan stores.
    clean = tmp_path / "clean"
    subprocess.run([*CAIRN, "scan", str(evidence), "--case", str(clean), "--no-progress"], check=True,
                   capture_output=True)
    assert _rows(db) == _rows(clean / "case.db")


def _processes_tagged(tag: str) -> list[int]:
    """PIDs whose environment carries ``CAIRN_TEST_TAG=tag`` (the scan and every worker it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"CAIRN_TEST_TAG={tag}".encode() in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def test_workers_end_when_the_scan_is_killed(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    _evidence(evidence, 150)
    case = tmp_path / "case"
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    env = {**os.environ, "CAIRN_TEST_TAG": tag}
    cmd = [*CAIRN, "scan", str(evidence), "--case", str(case), "--workers", "2", "--batch", "3", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 120
    while _stored_count(case / "case.db") < 10:
        assert proc.poll() is None, "scan ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert len(_processes_tagged(tag)) > 1, "expected worker processes beside the scan"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 15
    while (left := _processes_tagged(tag)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == [], f"worker processes outlived the killed scan: {left}"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_marks_the_run_interrupted_and_says_how_to_resume(tmp_path: Path, workers: str) -> None:
    evidence = tmp_path / "evidence"
    total = _evidence(evidence, 150)
    case = tmp_path / "case"
    db = case / "case.db"
    cmd = [*CAIRN, "scan", str(evidence), "--case", str(case), "--workers", workers, "--batch", "3", "--no-progress"]
    # Its own process group, so Ctrl-C reaches the scan and its workers together, as from a terminal.
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while _stored_count(db) < 20:
        assert proc.poll() is None, "scan ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Run the same `cairn scan` again" in stderr
    assert "Traceback" not in stderr
    with sqlite3.connect(db) as con:
        assert [r[0] for r in con.execute("SELECT status FROM scan_runs")] == ["interrupted"]
        stored = int(con.execute("SELECT count(*) FROM files").fetchone()[0])
    assert 0 < stored < total
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    assert _stored_count(db) == total


@pytest.mark.postgres
def test_sigkill_then_resume_on_postgresql(tmp_path: Path) -> None:
    import psycopg

    from tests.store.pg import libpq_url, pg_schema_url

    evidence = tmp_path / "evidence"
    total = _evidence(evidence, 120)
    with pg_schema_url() as url:

        def stored() -> int:
            try:
                with psycopg.connect(libpq_url(url)) as con:
                    return int(con.execute("SELECT count(*) FROM files").fetchone()[0])  # type: ignore[index]
            except psycopg.errors.UndefinedTable:
                return 0

        case = tmp_path / "case"
        cmd = [*CAIRN, "scan", str(evidence), "--case", str(case), "--db", url, "--workers", "2", "--batch", "3",
               "--no-progress"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while stored() < 15:
            assert proc.poll() is None, "scan ended before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert 0 < stored() < total
        resume = cmd[:7] + cmd[9:]  # no --db: the case folder remembers it
        assert "--db" not in resume and str(case) in resume
        subprocess.run(resume, check=True, capture_output=True, timeout=300)
        with psycopg.connect(libpq_url(url)) as con:
            paths = [r[0] for r in con.execute("SELECT path FROM files")]
            statuses = [r[0] for r in con.execute("SELECT status FROM scan_runs ORDER BY id")]
    assert len(paths) == len(set(paths)) == total
    assert statuses == ["interrupted", "completed"]
