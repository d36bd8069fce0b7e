"""A case is found by the id its folder holds, not by the folder's name; read commands never write (item 19).

Issue 10, item 19: a case folder copied or renamed (to an exhibit drive) listed 0 rows, and the read command
created a new case and overwrote ``audit-head.json``, after which the original no longer verified. Here a
scanned case is copied and renamed on SQLite and PostgreSQL and read with every read command; both folders
must list the same rows, verify, and stay byte for byte (and mtime for mtime) as they were.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from cairn.case_config import CONFIG_NAME, read_config
from cairn.cli.main import app
from cairn.store import CaseStore
from cairn.store.identity import CaseFolderMismatch, CaseNotFound
from cairn.store.migrate import HEAD_REVISION

from .helpers import raw_engine

runner = CliRunner()

READS = (("files", "--format", "json"), ("files", "--format", "csv"), ("audit", "verify"), ("audit", "show"), ("runs",))


def folder_state(folder: Path) -> dict[str, tuple[str, int, int, int]]:
    """Every entry's SHA-256, mtime (ns), size and mode, and the folder's own mtime: to prove nothing changed."""
    state = {".": ("", folder.stat().st_mtime_ns, 0, folder.stat().st_mode)}
    for entry in sorted(folder.iterdir()):
        st = entry.lstat()
        state[entry.name] = (hashlib.sha256(entry.read_bytes()).hexdigest(), st.st_mtime_ns, st.st_size, st.st_mode)
    return state


def cli(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def scan_small(tmp_path: Path, case: Path, db_url: str | None) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir(exist_ok=True)
    (evidence / "a.txt").write_text("a red bicycle on a beach")
    (evidence / "b.txt").write_text("a blue kite over a field")
    db = ["--db", db_url] if db_url else []
    cli("scan", str(evidence), "--case", str(case), "--workers", "1", "--no-progress", *db)


def read_all(case: Path) -> dict[str, str]:
    return {" ".join(args): cli(*args, "--case", str(case)) for args in READS}


def test_a_copied_and_a_renamed_case_folder_read_the_same_and_write_nothing(
    tmp_path: Path, db_url: str | None
) -> None:
    original = tmp_path / "one" / "case"
    scan_small(tmp_path, original, db_url)
    config = read_config(original)
    assert config.uid is not None and len(config.uid) == 36
    assert config.db_url == (None if db_url is None else db_url)
    before = read_all(original)
    rows = json.loads(before["files --format json"])
    assert [r["path"] for r in rows] == ["a.txt", "b.txt"]

    exhibit = tmp_path / "exhibit-drive" / "CASE 17 copy"
    shutil.copytree(original, exhibit.parent / "staging")
    (exhibit.parent / "staging").rename(exhibit)  # copied, then renamed
    states = {original: folder_state(original), exhibit: folder_state(exhibit)}

    copy_reads = read_all(exhibit)
    assert copy_reads["files --format json"] == before["files --format json"]
    assert copy_reads["files --format csv"] == before["files --format csv"]
    assert "audit chain intact: 4 entries" in copy_reads["audit verify"]
    assert copy_reads["audit show"] == before["audit show"] and copy_reads["runs"] == before["runs"]
    assert "audit chain intact: 4 entries" in cli("audit", "verify", "--case", str(original))
    assert {folder: folder_state(folder) for folder in states} == states  # not one byte, not one mtime

    moved = tmp_path / "moved" / "renamed-case"
    moved.parent.mkdir()
    original.rename(moved)
    assert read_all(moved)["files --format json"] == before["files --format json"]
    assert folder_state(moved) == {**states[original], ".": folder_state(moved)["."]}

    # a write command on the renamed folder continues the same case: no second case, the chain goes on
    scan_small(tmp_path, moved, None)  # the URL (if any) comes from case.json
    engine = raw_engine(moved, db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM cases")).scalar() == 1
    finally:
        engine.dispose()
    assert "#2" in cli("runs", "--case", str(moved))
    assert "audit chain intact: 6 entries" in cli("audit", "verify", "--case", str(moved))


def test_a_legacy_case_without_id_is_read_untouched_and_gets_its_id_on_a_write(
    tmp_path: Path, db_url: str | None
) -> None:
    case = tmp_path / "legacy"
    scan_small(tmp_path, case, db_url)
    engine = raw_engine(case, db_url)
    try:
        with engine.begin() as conn:  # as cairn made cases before ids existed
            conn.execute(text("UPDATE cases SET uid = NULL"))
    finally:
        engine.dispose()
    (case / CONFIG_NAME).write_text(json.dumps({"db_url": db_url} if db_url else {}))
    state = folder_state(case)
    rows = cli("files", "--case", str(case), "--format", "json")
    assert "audit chain intact" in cli("audit", "verify", "--case", str(case))
    assert folder_state(case) == state and read_config(case).uid is None  # a read records nothing

    if db_url is None:  # a renamed legacy SQLite folder: its own case.db holds one case, that one is it
        renamed = tmp_path / "legacy renamed"
        case.rename(renamed)
        case = renamed
        assert cli("files", "--case", str(case), "--format", "json") == rows
        assert folder_state(case) == {**state, ".": folder_state(case)["."]}

    with CaseStore.open(case, read_config(case).db_url) as store:  # a write open records the id
        uid = read_config(case).uid
        assert uid is not None
        assert store.audit_entries()[-1]["action"] == "case.uid_recorded"
        assert store.audit_entries()[-1]["details"]["uid"] == uid
        assert store.audit_verify() == []
    engine = raw_engine(case, db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT uid FROM cases")).scalar() == uid
    finally:
        engine.dispose()
    assert cli("files", "--case", str(case), "--format", "json") == rows


def test_read_commands_on_a_folder_without_a_case_create_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in READS:
        out = cli(*args, "--case", str(empty), code=2)
        assert "holds no case database" in out
    assert list(empty.iterdir()) == []
    out = cli("files", "--case", str(tmp_path / "nowhere"), code=2)
    assert "No case folder" in out and not (tmp_path / "nowhere").exists()
    with pytest.raises(CaseNotFound):
        CaseStore.open(tmp_path / "nowhere", read_only=True)
    assert not (tmp_path / "nowhere").exists()


def test_a_case_json_naming_another_case_is_refused(tmp_path: Path, db_url: str | None) -> None:
    case = tmp_path / "case"
    scan_small(tmp_path, case, db_url)
    raw = json.loads((case / CONFIG_NAME).read_text())
    (case / CONFIG_NAME).write_text(json.dumps({**raw, "uid": "00000000-0000-4000-8000-000000000000"}))
    out = cli("files", "--case", str(case), code=2)
    assert "different cases" in out
    with pytest.raises(CaseFolderMismatch):
        CaseStore.open(case, db_url)


def test_a_read_never_migrates_an_older_database_and_refuses_a_newer_one(
    tmp_path: Path, db_url: str | None
) -> None:
    from alembic import command

    from cairn.store.migrate import alembic_config

    case = tmp_path / "case"
    scan_small(tmp_path, case, db_url)
    rows = json.loads(cli("files", "--case", str(case), "--format", "json"))
    engine = raw_engine(case, db_url)
    try:
        config = alembic_config()
        with engine.begin() as conn:  # the database as cairn revision 0001 left it
            config.attributes["connection"] = conn
            command.downgrade(config, "0001")
        state = folder_state(case)
        for args in READS:
            out = cli(*args, "--case", str(case), code=2)
            assert "older than this cairn" in out and "cairn upgrade --case" in out
        assert folder_state(case) == state
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
        assert f"schema revision {HEAD_REVISION}" in cli("upgrade", "--case", str(case))  # the write command migrates
        assert json.loads(cli("files", "--case", str(case), "--format", "json")) == rows
        assert "audit chain intact: 5 entries" in cli("audit", "verify", "--case", str(case))  # + case.uid_recorded
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        state = folder_state(case)
        out = cli("files", "--case", str(case), code=2)
        assert "newer cairn" in out
        assert folder_state(case) == state
    finally:
        engine.dispose()


def test_a_read_only_store_cannot_write(tmp_path: Path, db_url: str | None) -> None:
    case = tmp_path / "case"
    scan_small(tmp_path, case, db_url)
    state = folder_state(case)
    with CaseStore.open(case, db_url, read_only=True) as store:
        assert store.read_only and store.counts()["files"] == 2
        with pytest.raises(Exception, match="(?i)read.?only"):
            store.audit_append("note", {"text": "must not be stored"}, "tester")
    assert folder_state(case) == state
    if db_url is None:
        with sqlite3.connect(case / "case.db") as con:
            assert con.execute("SELECT count(*) FROM audit_log").fetchone() == (4,)
    assert not any(name.endswith(("-wal", "-shm", "-journal")) for name in os.listdir(case))
