"""Migrations from an empty database on both backends; re-opening is a no-op."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from cairn.store import CaseStore
from cairn.store.migrate import HEAD_REVISION, current_revision, head_revision

from .helpers import raw_engine

TABLES = {
    "alembic_version",
    "cases",
    "evidence",
    "scan_runs",
    "files",
    "file_hashes",
    "images",
    "findings",
    "file_errors",
    "thumbnails",
    "audit_log",
    "hash_sets",
    "hash_set_entries",
    "match_runs",
    "file_matches",
    "group_runs",
    "file_groups",
    "users",
    "file_categories",
    "media_views",
}


def test_open_migrates_empty_database_to_head(case_dir: Path, db_url: str | None) -> None:
    assert not case_dir.exists()
    with CaseStore.open(case_dir, db_url) as store:
        assert case_dir.is_dir()
        assert store.case_name == "case-one"
        entries = store.audit_entries()
        assert [e["action"] for e in entries] == ["case.created"]
        assert entries[0]["details"]["name"] == "case-one"
    engine = raw_engine(case_dir, db_url)
    try:
        assert current_revision(engine) == head_revision() == "0012"
        insp = inspect(engine)
        assert set(insp.get_table_names()) >= TABLES
        hash_indexes = {tuple(ix["column_names"]) for ix in insp.get_indexes("file_hashes")}
        assert ("kind", "value") in hash_indexes
        uniques = {tuple(u["column_names"]) for u in insp.get_unique_constraints("files")}
        assert ("evidence_id", "path") in uniques
    finally:
        engine.dispose()
    if db_url is None:
        assert (case_dir / "case.db").is_file()


def test_reopen_is_a_no_op(case_dir: Path, db_url: str | None) -> None:
    with CaseStore.open(case_dir, db_url) as first:
        case_id = first.case_id
        ev = first.register_evidence("/evidence/disk1", "directory", "examiner", {})
        before = first.audit_entries()
    with CaseStore.open(case_dir, db_url) as again:
        assert again.case_id == case_id
        assert again.audit_entries() == before  # opening is not audited, case not re-created
        assert again.register_evidence("/evidence/disk1", "directory", "examiner", {}) == ev
        assert again.audit_entries() == before
        assert again.audit_verify() == []
    engine = raw_engine(case_dir, db_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_several_cases_share_one_database(tmp_path: Path, db_url: str | None) -> None:
    shared = None if db_url is None else db_url
    first_dir = tmp_path / "alpha"
    with CaseStore.open(first_dir, shared) as a:
        a_id = a.case_id
        url = shared if shared is not None else f"sqlite:///{first_dir / 'case.db'}"
    with CaseStore.open(tmp_path / "beta", url) as b, CaseStore.open(first_dir, url) as a2:
        assert a2.case_id == a_id
        assert b.case_id != a_id
        assert b.case_name == "beta"
        b.audit_append("note", {"text": "second case"}, "examiner")
        assert [e["seq"] for e in b.audit_entries()] == [1, 2]
        assert [e["seq"] for e in a2.audit_entries()] == [1]
        assert a2.audit_verify() == [] and b.audit_verify() == []


def test_db_url_masks_password(tmp_path: Path) -> None:
    from cairn.store.db import mask_url, resolve_url

    url = resolve_url(tmp_path, "postgresql://alice:s3cret@db.example:5432/cases")
    assert url.startswith("postgresql+psycopg://alice:s3cret@")
    assert "s3cret" not in mask_url(url)
    assert resolve_url(tmp_path, None) == f"sqlite:///{(tmp_path / 'case.db').resolve()}"


def test_fast_path_head_constant_is_alembics_head() -> None:
    assert head_revision() == HEAD_REVISION
