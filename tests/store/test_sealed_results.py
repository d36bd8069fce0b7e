"""Results edited in the database fail ``audit verify``: each completed run's digests are recomputed from the
stored rows and compared with what its ``scan.finished`` entry sealed. SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from cairn.cli.main import app
from cairn.pipeline.scan import scan
from cairn.settings import ScanSettings
from cairn.store import CaseStore

from .helpers import raw_engine


def _evidence(tmp_path: Path) -> Path:
    evidence = tmp_path / "evidence"
    (evidence / "docs").mkdir(parents=True)
    for i in range(4):
        (evidence / "docs" / f"note-{i}.txt").write_text(f"benign note {i}\n", encoding="utf-8")
    (evidence / "empty.bin").write_bytes(b"")
    return evidence


@pytest.fixture
def scanned(tmp_path: Path, db_url: str | None) -> tuple[CaseStore, int]:
    store = CaseStore.open(tmp_path / "case", db_url)
    summary = scan(_evidence(tmp_path), store, ScanSettings(workers=1), actor="examiner", show_progress=False)
    assert summary.status == "completed"
    return store, summary.run_id


def _attack(store: CaseStore, db_url: str | None, sql: str) -> None:
    engine = raw_engine(store.case_dir, db_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(text(sql)).rowcount == 1
    finally:
        engine.dispose()


def test_untouched_results_verify(scanned: tuple[CaseStore, int]) -> None:
    store, _ = scanned
    try:
        assert store.audit_verify() == []
    finally:
        store.close()


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("DELETE FROM files WHERE path = 'docs/note-2.txt'", "evidence digest"),
        (
            "UPDATE file_hashes SET value = '" + "0" * 64 + "' WHERE kind = 'sha256' AND file_id = "
            "(SELECT id FROM files WHERE path = 'docs/note-1.txt')",
            "evidence digest",
        ),
        (
            "UPDATE file_hashes SET value = '" + "0" * 32 + "' WHERE kind = 'md5' AND file_id = "
            "(SELECT id FROM files WHERE path = 'docs/note-1.txt')",
            "rows digest",
        ),
        ("UPDATE files SET size = 999 WHERE path = 'docs/note-3.txt'", "rows digest"),
        ("UPDATE files SET path = 'docs/renamed.txt' WHERE path = 'docs/note-0.txt'", "evidence digest"),
    ],
)
def test_edited_results_fail_verify_naming_the_run(
    scanned: tuple[CaseStore, int], db_url: str | None, sql: str, says: str
) -> None:
    store, run_id = scanned
    try:
        _attack(store, db_url, sql)
        problems = store.audit_verify()
    finally:
        store.close()
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"run #{run_id} (evidence #")
    assert says in problems[0]


def test_later_runs_of_grown_evidence_still_verify(tmp_path: Path, db_url: str | None) -> None:
    evidence = _evidence(tmp_path)
    with CaseStore.open(tmp_path / "case", db_url) as store:
        first = scan(evidence, store, ScanSettings(workers=1), actor="examiner", show_progress=False)
        (evidence / "later.txt").write_text("added after the first scan\n", encoding="utf-8")
        second = scan(evidence, store, ScanSettings(workers=1), actor="examiner", show_progress=False)
        assert first.evidence_digest != second.evidence_digest
        assert store.audit_verify() == []
        _attack(store, db_url, "DELETE FROM files WHERE path = 'later.txt'")
        problems = store.audit_verify()
    assert [p.split(":")[0].split(" (")[0] for p in problems] == [f"run #{second.run_id}"]


def test_cli_audit_verify_exits_1_on_an_edited_row(tmp_path: Path) -> None:
    evidence, case = _evidence(tmp_path), tmp_path / "case"
    with CaseStore.open(case) as store:
        summary = scan(evidence, store, ScanSettings(workers=1), actor="examiner", show_progress=False)
        _attack(store, None, "DELETE FROM files WHERE path = 'empty.bin'")
    result = CliRunner().invoke(app, ["audit", "verify", "--case", str(case)])
    assert result.exit_code == 1
    assert f"run #{summary.run_id}" in result.output and "NOT intact" in result.output
