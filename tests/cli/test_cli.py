"""The command line as a user runs it: demo, scan, files (CSV/JSON), audit verify, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cairn.cli.main import app
from cairn.report.export import FILE_COLUMNS
from tests.conftest import ScannedDemo
from tests.store.pg import pg_schema_url

runner = CliRunner()


def _run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_files_csv_and_json_list_every_stored_file(scanned_demo: ScannedDemo) -> None:
    case = str(scanned_demo.case_dir)
    rows = list(csv.DictReader(io.StringIO(_run("files", "--case", case, "--format", "csv"))))
    assert tuple(rows[0].keys()) == FILE_COLUMNS
    as_json = json.loads(_run("files", "--case", case, "--format", "json"))
    assert [r["path"] for r in as_json] == [r["path"] for r in rows]
    assert len(rows) >= len(scanned_demo.manifest.entries)
    by_path = {r["path"]: r for r in as_json}
    jpeg = next(r for r in as_json if r["type"] == "jpeg" and r["pdq"])
    assert len(jpeg["sha256"]) == 64 and isinstance(jpeg["width"], int)
    assert by_path["Downloads/huge.png"]["error"].startswith("image_bomb:")


def test_demo_scan_files_audit_round_trip(tmp_path: Path) -> None:
    evidence, case = tmp_path / "ev", tmp_path / "case"
    assert "demo items" in _run("demo", str(evidence), "--size", "small")
    assert (tmp_path / "ev.manifest.json").exists()
    out = _run("scan", str(evidence), "--case", str(case), "--workers", "1", "--no-progress")
    assert "completed" in out and "evidence digest" in out
    assert "audit chain intact" in _run("audit", "verify", "--case", str(case))
    _run("demo", str(evidence), code=2)  # never writes into a non-empty folder

    # An attacker with database access edits the log: verify must fail with exit code 1.
    with sqlite3.connect(case / "case.db") as con:
        con.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        con.execute("UPDATE audit_log SET actor = 'someone else' WHERE seq = 2")
    out = runner.invoke(app, ["audit", "verify", "--case", str(case)])
    assert out.exit_code == 1
    assert "NOT intact" in out.output


def test_resuming_with_other_result_settings_is_refused(tmp_path: Path) -> None:
    evidence, case = tmp_path / "ev", tmp_path / "case"
    evidence.mkdir()
    (evidence / "a.txt").write_text("a red bicycle on a beach")
    _run("scan", str(evidence), "--case", str(case), "--workers", "1", "--no-progress")
    out = runner.invoke(app, ["scan", str(evidence), "--case", str(case), "--fast-pdq", "--no-progress"])
    assert out.exit_code == 2 and "fast_pdq" in out.output and "new --case" in out.output
    _run("scan", str(evidence), "--case", str(case), "--workers", "2", "--no-progress")  # workers: same results
    assert "#3" not in _run("runs", "--case", str(case)) and "#2" in _run("runs", "--case", str(case))


def test_a_case_folder_inside_the_evidence_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "a.txt").write_text("a red bicycle on a beach")
    out = runner.invoke(app, ["scan", str(tmp_path / "ev"), "--case", str(tmp_path / "ev" / "case")])
    assert out.exit_code == 2 and "never writes into" in out.output
    assert sorted(p.name for p in (tmp_path / "ev").iterdir()) == ["a.txt"]


def test_missing_evidence_and_missing_case_say_what_to_do(tmp_path: Path) -> None:
    out = runner.invoke(app, ["scan", str(tmp_path / "nope"), "--case", str(tmp_path / "c")])
    assert out.exit_code == 2 and "No evidence" in out.output
    out = runner.invoke(app, ["files", "--case", str(tmp_path / "no-case")])
    assert out.exit_code == 2 and "cairn scan" in out.output


@pytest.mark.postgres
def test_scan_into_postgresql_matches_sqlite(scanned_demo: ScannedDemo, tmp_path: Path) -> None:
    with pg_schema_url() as url:
        case = tmp_path / "pgcase"
        _run("scan", str(scanned_demo.evidence), "--case", str(case), "--db", url, "--no-progress")
        assert json.loads((case / "case.json").read_text())["db_url"] == url
        pg_rows = json.loads(_run("files", "--case", str(case), "--format", "json"))  # URL from case.json
        assert "audit chain intact" in _run("audit", "verify", "--case", str(case))
    sqlite_rows = json.loads(_run("files", "--case", str(scanned_demo.case_dir), "--format", "json"))
    assert pg_rows == sqlite_rows


@pytest.mark.postgres
def test_two_case_folders_cannot_share_one_case_in_a_database(tmp_path: Path) -> None:
    evidence = tmp_path / "ev"
    evidence.mkdir()
    (evidence / "a.txt").write_text("a red bicycle on a beach")
    with pg_schema_url() as url:
        _run("scan", str(evidence), "--case", str(tmp_path / "one" / "case"), "--db", url, "--no-progress")
        out = runner.invoke(
            app, ["scan", str(evidence), "--case", str(tmp_path / "two" / "case"), "--db", url, "--no-progress"]
        )
        assert out.exit_code == 2 and "belongs to another case folder" in out.output
        # the folder it was made in still opens, and its chain is intact
        assert "audit chain intact" in _run("audit", "verify", "--case", str(tmp_path / "one" / "case"))


def test_scan_records_the_item_timeout_and_decode_budget_it_was_given(tmp_path: Path) -> None:
    evidence, case = tmp_path / "ev", tmp_path / "case"
    evidence.mkdir()
    (evidence / "note.txt").write_text("a red bicycle on a beach\n", encoding="utf-8")
    args = ("scan", str(evidence), "--case", str(case), "--workers", "1", "--no-progress")
    _run(*args, "--item-timeout", "0", "--decode-memory", "64")
    with sqlite3.connect(case / "case.db") as con:
        (settings_json,) = con.execute("SELECT settings_json FROM scan_runs").fetchone()
    limits = json.loads(settings_json)["limits"]
    assert limits["item_timeout"] == 0 and limits["decode_memory_budget"] == 64 * 1024**2
    _run("scan", "--case", str(case), str(evidence), "--item-timeout", "-1", code=2)
