"""Migrations 0010 and 0011's indexes (the review grid at a million files): present after open, used by SQLite
for the match filter, the group size and the picture types, and the review store's answers are the same with and
without them."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

from cairn.matching.formats.base import ReadOptions
from cairn.store import CaseStore
from cairn.store import review as review_mod
from cairn.store import users as users_mod
from tests.conftest import ScannedDemo

INDEXES = {
    "ix_file_matches_file_id_match_run_id": "file_matches",
    "ix_file_groups_group_run_id_group_no": "file_groups",
    "ix_files_case_id_type_label": "files",
}
FILTERS = [
    review_mod.GridFilters(),
    review_mod.GridFilters(match="known"),
    review_mod.GridFilters(match="unknown"),
    review_mod.GridFilters(match="ignorable"),
    review_mod.GridFilters(match="known", type="png"),
]


def answers(store: CaseStore) -> dict[str, Any]:
    """Every page (5 rows at a time, keyset) of each filter, and each group's members as the store lists them."""
    out: dict[str, Any] = {}
    for filters in FILTERS:
        pages, cursor = [], None
        while True:
            rows, cursor = review_mod.grid_page(store, filters, cursor, 5, "vic-us")
            pages.append(rows)
            if cursor is None:
                break
        out[repr(filters)] = pages
    out["groups"] = store.groups()
    out["types"] = review_mod.type_labels(store)
    return out


def plan(db: Path, sql: str, params: tuple[Any, ...]) -> str:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return " | ".join(str(r[3]) for r in con.execute("EXPLAIN QUERY PLAN " + sql, params))


def test_review_indexes_change_no_answer_and_are_used(scanned_demo: ScannedDemo, tmp_path: Path) -> None:
    case_dir = tmp_path / "case"
    shutil.copytree(scanned_demo.case_dir, case_dir)
    with CaseStore.open(case_dir) as store:
        store.run_groups(actor="lead")
        users_mod.add_user(store, "rita", "reviewer", "benign test password", "lead")
        pictures, _ = review_mod.grid_page(store, review_mod.GridFilters(), None, review_mod.MAX_PAGE, "vic-us")
        known = tmp_path / "known.txt"
        known.write_text("".join(f"{r['sha256']}\n" for r in pictures[:3] if r["sha256"]))
        ignorable = tmp_path / "ignorable.txt"
        ignorable.write_text("".join(f"{r['sha256']}\n" for r in pictures[3:5] if r["sha256"]))
        store.import_hash_set(known, actor="lead", format_name="list", options=ReadOptions(ignorable=False))
        store.import_hash_set(ignorable, actor="lead", format_name="list", options=ReadOptions(ignorable=True))
        store.run_match(actor="lead")
        with_indexes = answers(store)
    # the case has hits of both kinds and groups, so the comparison below says something
    assert with_indexes[repr(review_mod.GridFilters(match="known"))][0]
    assert with_indexes[repr(review_mod.GridFilters(match="ignorable"))][0]
    assert any(r["group_size"] > 1 for page in with_indexes[repr(review_mod.GridFilters())] for r in page)
    db = case_dir / "case.db"
    with sqlite3.connect(db) as con:
        present = {name: table for name, table in con.execute("SELECT name, tbl_name FROM sqlite_master "
                                                              "WHERE type = 'index'") if name in INDEXES}
        assert present == INDEXES
    match_plan = plan(db, "SELECT 1 FROM file_matches WHERE match_run_id = ? AND file_id = ?", (1, 1))
    assert "ix_file_matches_file_id_match_run_id" in match_plan, match_plan
    group_plan = plan(db, "SELECT count(*) FROM file_groups WHERE group_run_id = ? AND group_no = ?", (1, 1))
    assert "ix_file_groups_group_run_id_group_no" in group_plan, group_plan
    types_plan = plan(db, "SELECT min(type_label) FROM files WHERE case_id = ? AND type_label > ?", (1, "a"))
    assert "ix_files_case_id_type_label" in types_plan, types_plan
    assert with_indexes["types"] and "png" in with_indexes["types"]
    with sqlite3.connect(db) as con:  # the types as the plain join gives them; the case also has other types
        joined = sorted(t for (t,) in con.execute(
            "SELECT DISTINCT f.type_label FROM files f JOIN images i ON i.file_id = f.id "
            "WHERE f.case_id = ? AND f.type_label IS NOT NULL", (store.case_id,)))
        every = {t for (t,) in con.execute("SELECT DISTINCT type_label FROM files WHERE type_label IS NOT NULL")}
    assert with_indexes["types"] == joined and every - set(joined)
    with sqlite3.connect(db) as con:
        for name in INDEXES:
            con.execute(f"DROP INDEX {name}")
    with CaseStore.open(case_dir) as store:  # at head already: opening does not put them back
        assert answers(store) == with_indexes
        assert store.audit_verify() == []
