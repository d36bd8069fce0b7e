"""Migrations 0010, 0011 and 0012's indexes (the review grid at a million files): present after open, used by
SQLite for the match filter, the group size, the picture types and the selective filters' own tables, and the
review store's answers are the same with and without them; pages driven by a selective filter's table are the
pages the walk through every file gives."""

from __future__ import annotations

import json
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
    "ix_findings_kind_file_id": "findings",
    "ix_file_categories_case_id_scheme_value": "file_categories",
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
    ai_plan = plan(db, "SELECT DISTINCT file_id FROM findings WHERE kind = ?", ("generation_record",))
    assert "ix_findings_kind_file_id" in ai_plan, ai_plan
    category_plan = plan(db, "SELECT DISTINCT file_id FROM file_categories WHERE case_id = ? AND scheme = ? "
                             "AND value = ?", (1, "vic-us", "1"))
    assert "ix_file_categories_case_id_scheme_value" in category_plan, category_plan
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


def test_selective_filters_drive_the_page_and_answer_as_the_walk_does(
    scanned_demo: ScannedDemo, tmp_path: Path, monkeypatch: Any
) -> None:
    """Match hits, generation records, categories, conflicts and groups drive the page from their own tables
    (migration 0012 indexes two of them): every page of every filter, alone and combined, is the page the walk
    through all files in path order gives, also where the latest category differs from an earlier one."""
    case_dir = tmp_path / "case"
    shutil.copytree(scanned_demo.case_dir, case_dir)
    with CaseStore.open(case_dir) as store:
        store.run_groups(actor="lead")
        users_mod.add_user(store, "rita", "reviewer", "benign test password", "lead")
        rita = users_mod.authenticate(store, "rita", "benign test password")
        assert rita is not None
        pictures, _ = review_mod.grid_page(store, review_mod.GridFilters(), None, review_mod.MAX_PAGE, "vic-us")
        made = review_mod.grid_page(store, review_mod.GridFilters(ai="generated"), None, 500, "vic-us")[0]
        known = tmp_path / "known.csv"
        known.write_text("sha256,category\n" + "".join(
            f"{r['sha256']},{n % 2 + 1}\n" for n, r in enumerate(pictures[:6] + made[:4]) if r["sha256"]))
        store.import_hash_set(known, actor="lead", format_name="csv")
        store.run_match(actor="lead")
        for n, row in enumerate(pictures[:40] + made):
            review_mod.categorise(store, row["file_id"], "vic-us", str(n % 3 + 1), rita)
        for row in pictures[:5]:  # categorised again: the latest category is what counts
            review_mod.categorise(store, row["file_id"], "vic-us", "3", rita)
        grouped = next(r["group"] for r in pictures if r["group_size"] > 1)
        with store._engine.connect() as conn:
            records = [json.loads(d) for (d,) in conn.exec_driver_sql(
                "SELECT data_json FROM findings WHERE kind = 'generation_record'")]
        tool = next(r["tool"] for r in records if r.get("tool"))
        filters = [
            review_mod.GridFilters(match="known"),
            review_mod.GridFilters(match="known", category="1"),
            review_mod.GridFilters(ai="generated"),
            review_mod.GridFilters(ai="generated", category="2"),
            review_mod.GridFilters(ai="generated", type="png"),
            review_mod.GridFilters(category="1"),
            review_mod.GridFilters(category="3"),
            review_mod.GridFilters(conflict="yes"),
            review_mod.GridFilters(group=grouped),
            review_mod.GridFilters(group=grouped, category="2"),
            review_mod.GridFilters(tool=tool),
            review_mod.GridFilters(tool=tool, match="known"),
        ]
        driven_calls: list[int] = []
        real = review_mod._driven_rows

        def counted(*args: Any) -> Any:
            driven_calls.append(1)
            return real(*args)

        def pages(f: review_mod.GridFilters, size: int) -> list[list[dict[str, Any]]]:
            out, cursor = [], None
            while True:
                rows, cursor = review_mod.grid_page(store, f, cursor, size, "vic-us")
                out.append(rows)
                if cursor is None:
                    return out

        monkeypatch.setattr(review_mod, "_driven_rows", counted)
        driven = {repr(f): (pages(f, 2), pages(f, 7)) for f in filters}
        assert len(driven_calls) >= sum(len(a) + len(b) for a, b in driven.values())  # every page was driven
        narrowed: list[int] = []
        real_of_type = review_mod._of_type

        def of_type(*args: Any) -> Any:
            found = real_of_type(*args)
            narrowed.append(len(found))
            return found

        monkeypatch.setattr(review_mod, "_of_type", of_type)
        monkeypatch.setattr(review_mod, "DRIVER_CAP", 3)  # few enough only once narrowed to the type's files
        typed = [f for f in filters if f.type is not None] + [
            review_mod.GridFilters(match="known", type="png"), review_mod.GridFilters(category="2", type="png"),
            review_mod.GridFilters(category="1", type="jpeg"),
        ]
        small_cap = {repr(f): pages(f, 2) for f in typed}
        assert narrowed and any(n <= 3 for n in narrowed)  # the type narrowed a table's files below the cap
        monkeypatch.setattr(review_mod, "DRIVER_CAP", -1)  # no table is small enough: walk every file
        walked = {repr(f): (pages(f, 2), pages(f, 7)) for f in filters}
        walked_typed = {repr(f): pages(f, 2) for f in typed}
    assert small_cap == walked_typed
    assert driven == walked
    nonempty = [k for k, (p, _) in driven.items() if p[0]]
    assert len(nonempty) >= len(filters) - 2, nonempty  # the comparison is about real rows
    latest = {r["file_id"] for page in driven[repr(review_mod.GridFilters(category="1"))][0] for r in page}
    assert not latest & {r["file_id"] for r in pictures[:5]}  # re-categorised to 3: no longer category 1
