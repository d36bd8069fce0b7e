"""The review app's tables on both backends: pages, categorisation history, reveals, exposure, concurrency."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import text

from cairn.pipeline.scan import scan
from cairn.settings import ScanSettings
from cairn.store import CaseStore, review
from cairn.store.users import User, add_user, authenticate

PASSWORD = "benign test password"
COLOURS = {"red-bicycle.png": (200, 30, 30), "blue-beach.png": (30, 60, 200), "green-field.jpg": (40, 160, 60)}


@pytest.fixture
def scanned(store: CaseStore, tmp_path: Path) -> tuple[CaseStore, list[User]]:
    evidence = tmp_path / "evidence"
    (evidence / "sub").mkdir(parents=True)
    for name, colour in COLOURS.items():
        Image.new("RGB", (96, 64), colour).save(evidence / name)
    Image.new("RGB", (32, 32), (250, 250, 0)).save(evidence / "sub" / "sun.png")
    (evidence / "sub" / "sun-copy.png").write_bytes((evidence / "sub" / "sun.png").read_bytes())
    (evidence / "notes.txt").write_text("a red bicycle on a beach\n")
    scan(evidence, store, ScanSettings(workers=1), actor="tester", show_progress=False)
    people = []
    for name in ("rita", "ivan"):
        add_user(store, name, "reviewer", PASSWORD, "lead")
        found = authenticate(store, name, PASSWORD)
        assert found is not None
        people.append(found)
    return store, people


def test_pages_categories_reveals_and_exposure(scanned: tuple[CaseStore, list[User]]) -> None:
    store, (rita, ivan) = scanned
    rows, cursor = review.grid_page(store, review.GridFilters(), None, 3, "vic-us")
    more, end = review.grid_page(store, review.GridFilters(), cursor, 5, "vic-us")
    paths = [r["path"] for r in rows + more]
    assert paths == sorted(["red-bicycle.png", "blue-beach.png", "green-field.jpg", "sub/sun-copy.png", "sub/sun.png"])
    assert end is None
    assert all(r["has_thumbnail"] and r["category"] is None for r in rows + more)
    target = rows[0]["file_id"]
    assert review.categorise(store, target, "vic-us", "4", rita)["changed"] is True
    assert review.categorise(store, target, "vic-us", 0, ivan)["previous"]["label"] == "Comparison images"
    with pytest.raises(review.ReviewInputError):
        review.categorise(store, target, "vic-us", "7", rita)
    history = review.category_history(store, target)
    assert [(h["user"], h["category"]["value"]) for h in history] == [("rita", 4), ("ivan", 0)]
    picked, _ = review.grid_page(store, review.GridFilters(category="0"), None, 10, "vic-us")
    assert [r["file_id"] for r in picked] == [target]
    assert len(review.grid_page(store, review.GridFilters(category="none"), None, 10, "vic-us")[0]) == 4
    data = review.reveal(store, target, rita)
    assert data == store.thumbnail(str(rows[0]["sha256"]))
    review.reveal(store, target, rita)
    assert review.exposure(store) == [
        {"name": "ivan", "role": "reviewer", "revealed": 0, "revealed_files": 0, "categorised": 1,
         "categorised_files": 1},
        {"name": "rita", "role": "reviewer", "revealed": 2, "revealed_files": 1, "categorised": 1,
         "categorised_files": 1},
    ]
    assert [e["action"] for e in store.audit_entries()[-4:]] == [
        "file.categorised", "file.categorised", "media.revealed", "media.revealed"
    ]
    assert store.audit_verify() == []
    with pytest.raises(review.FileNotInCase):
        review.reveal(store, 10**9, rita)
    newest = [(e["seq"], e["actor"], e["action"]) for e in store.audit_entries()[::-1][:3]]
    assert [(e["seq"], e["actor"], e["action"]) for e in review.recent_audit(store, 3)] == newest


def test_the_history_is_append_only(scanned: tuple[CaseStore, list[User]]) -> None:
    store, (rita, _ivan) = scanned
    target = review.grid_page(store, review.GridFilters(), None, 1, "vic-us")[0][0]["file_id"]
    review.categorise(store, target, "vic-us", 1, rita)
    for sql in ("UPDATE file_categories SET value = '0'", "DELETE FROM file_categories"):
        with pytest.raises(Exception, match="append-only"), store._engine.begin() as conn:
            conn.execute(text(sql))
    assert [h["category"]["value"] for h in review.category_history(store, target)] == [1]


def test_concurrent_categorisations_are_neither_lost_nor_doubled(scanned: tuple[CaseStore, list[User]]) -> None:
    store, (rita, ivan) = scanned
    target = review.grid_page(store, review.GridFilters(), None, 1, "vic-us")[0][0]["file_id"]
    errors: list[BaseException] = []

    def work(user: User, values: list[int]) -> None:
        try:
            for v in values:
                review.categorise(store, target, "vic-us", v, user)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(rita, [0, 1, 2, 3, 4] * 3)),
        threading.Thread(target=work, args=(ivan, [4, 3, 2, 1, 0] * 3)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = review.category_history(store, target)
    for before, after in zip(history, history[1:], strict=False):  # every change starts where the last one ended
        assert after["previous"] == before["category"]
        assert after["category"] != before["category"]
    logged = [e for e in store.audit_entries() if e["action"] == "file.categorised"]
    assert len(logged) == len(history) >= 2
    assert store.audit_verify() == []


def test_a_whole_near_duplicate_group_is_categorised_at_once(scanned: tuple[CaseStore, list[User]]) -> None:
    store, (rita, _ivan) = scanned
    loner = review.grid_page(store, review.GridFilters(), None, 1, "vic-us")[0][0]["file_id"]
    with pytest.raises(review.ReviewInputError, match="cairn groups"):
        review.categorise_group(store, loner, "vic-us", 4, rita)  # no group run yet
    store.run_groups(actor="lead")
    rows = review.grid_page(store, review.GridFilters(), None, 10, "vic-us")[0]
    grouped = [r for r in rows if r["group"] is not None]
    assert sorted(r["path"] for r in grouped) == ["sub/sun-copy.png", "sub/sun.png"]
    assert {r["group_size"] for r in grouped} == {2}
    assert all(r["group_size"] == 0 for r in rows if r["group"] is None)
    group = grouped[0]["group"]
    by_filter = review.grid_page(store, review.GridFilters(group=group), None, 10, "vic-us")[0]
    assert [r["file_id"] for r in by_filter] == [r["file_id"] for r in grouped]
    before = len(store.audit_entries())
    review.categorise(store, grouped[1]["file_id"], "vic-us", 4, rita)
    result = review.categorise_group(store, grouped[0]["file_id"], "vic-us", "4", rita)
    assert (result["group"], result["files"], result["changed"]) == (group, 2, 1)  # one had it already
    entries = store.audit_entries()[before:]
    assert [e["action"] for e in entries] == ["file.categorised", "file.categorised"]
    assert entries[-1]["details"]["bulk"] == {
        "group": group, "group_run_id": store.group_runs()[-1]["id"], "from_file_id": grouped[0]["file_id"]
    }
    assert review.categorise_group(store, grouped[0]["file_id"], "vic-us", 4, rita)["changed"] == 0
    assert len(store.audit_entries()) == before + 2
    with pytest.raises(review.ReviewInputError, match="no near-duplicate group"):
        review.categorise_group(store, loner, "vic-us", 4, rita)
    in_four = review.grid_page(store, review.GridFilters(category="4"), None, 10, "vic-us")[0]
    assert sorted(r["path"] for r in in_four) == ["sub/sun-copy.png", "sub/sun.png"]
    assert store.audit_verify() == []


def test_pages_run_across_evidence_roots_in_order(scanned: tuple[CaseStore, list[User]], tmp_path: Path) -> None:
    store, _ = scanned
    second = tmp_path / "evidence-2"
    second.mkdir()
    for name in ("a-kite.png", "z-boat.png"):
        Image.new("RGB", (40, 30), (90, 90, 200)).save(second / name)
    scan(second, store, ScanSettings(workers=1), actor="tester", show_progress=False)
    expected = [r["path"] for r in store.iter_file_rows() if r["width"] is not None]
    assert expected[-2:] == ["a-kite.png", "z-boat.png"] and len(expected) == 7  # evidence order, then path
    for size in (1, 2, 3, 5, 7, 8):
        seen: list[str] = []
        after = None
        while True:
            rows, after = review.grid_page(store, review.GridFilters(), after, size, "vic-us")
            assert len(rows) <= size
            seen.extend(r["path"] for r in rows)
            if after is None:
                break
        assert seen == expected, size


def test_file_rows_carry_the_current_category(scanned: tuple[CaseStore, list[User]]) -> None:
    store, (rita, ivan) = scanned
    rows = review.grid_page(store, review.GridFilters(), None, 10, "vic-us")[0]
    first, second, third = (r["file_id"] for r in rows[:3])
    review.categorise(store, first, "vic-us", 4, rita)
    review.categorise(store, first, "vic-us", 1, ivan)  # the latest counts
    review.categorise(store, second, "vic-us", 0, rita)
    review.categorise(store, third, "vic-us", 2, rita)
    review.categorise(store, third, "vic-us", None, rita)  # cleared: uncategorised again
    history = {h["category"]["value"]: h["at"] for h in review.category_history(store, first) if h["category"]}
    listed = {r["path"]: r for r in store.iter_file_rows(with_matches=True, page_size=2)}
    assert listed[rows[0]["path"]]["category"] == {
        "scheme": "vic-us", "value": 1, "label": "Child Abuse Material", "by": "ivan", "at": history[1]
    }
    assert listed[rows[1]["path"]]["category"]["value"] == 0 and listed[rows[1]["path"]]["category"]["by"] == "rita"
    assert listed[rows[2]["path"]]["category"] is None
    assert sum(r["category"] is not None for r in listed.values()) == 2
    assert all("category" not in r for r in store.iter_file_rows())  # only asked for with the matches


def test_file_detail_and_its_audit_history(scanned: tuple[CaseStore, list[User]]) -> None:
    store, (rita, _ivan) = scanned
    store.run_groups(actor="lead")
    rows = {r["path"]: r for r in review.grid_page(store, review.GridFilters(), None, 10, "vic-us")[0]}
    sun, copy = rows["sub/sun.png"], rows["sub/sun-copy.png"]
    review.categorise(store, sun["file_id"], "vic-us", 0, rita)
    detail = review.view_file(store, sun["file_id"], rita, "vic-us")
    assert detail["file"]["path"] == "sub/sun.png" and detail["file"]["type_label"] == "png"
    assert [h["kind"] for h in detail["hashes"]][:4] == ["md5", "sha1", "sha256", "pdq"]
    assert detail["has_thumbnail"] and detail["image"]["width"] == 32
    assert detail["containers"] == [{"path": "sub/sun.png", "name": "sub/sun.png", "file_id": sun["file_id"]}]
    assert {m["file_id"] for m in detail["group"]["members"]} == {sun["file_id"], copy["file_id"]}
    assert detail["category"]["value"] == 0 and len(detail["history"]) == 1
    assert [a["action"] for a in detail["audit"]] == ["file.viewed", "file.categorised"]
    # an entry naming another file is not this file's, whatever the digits
    assert all(a["details"]["file_id"] == sun["file_id"] for a in review.file_audit(store, sun["file_id"]))
    assert review.file_audit(store, 10**9) == []
    with pytest.raises(review.FileNotInCase):
        review.view_file(store, 10**9, rita, "vic-us")
    assert store.audit_entries()[-1]["action"] == "file.viewed"
    assert store.audit_verify() == []


def test_images_naming_a_model_are_the_links_by_image_turned_round(demo_store: CaseStore) -> None:
    from cairn.store import model_links

    store = demo_store
    paths = {r["_id"]: r["path"] for r in _ids_and_paths(store)}
    expected: dict[str, set[tuple[str, object, str]]] = {}
    for image_id, links in model_links.links_by_image(store._engine, store.case_id).items():
        for link in links:
            if link["model"] is not None and link["model"]["case"] is None:
                expected.setdefault(link["model"]["path"], set()).add((paths[image_id], link["role"], link["link"]))
    models = [m for m in model_links.model_files(store._engine) if m.case_id == store.case_id]
    assert len(models) >= 5
    kinds = set()
    for model in models:
        found = review.images_naming(store, model.file_id)
        assert {(r["path"], r["role"], r["link"]) for r in found} == expected.get(model.path, set()), model.path
        kinds |= {r["link"] for r in found}
    assert "hash" in kinds and sum(bool(expected.get(m.path)) for m in models) >= 4
    not_a_model = next(i for i, p in paths.items() if p.endswith(".png"))
    assert review.images_naming(store, not_a_model) == []


def _ids_and_paths(store: CaseStore) -> list[dict[str, object]]:
    from sqlalchemy import select

    from cairn.store.schema import files

    with store._engine.connect() as conn:
        rows = conn.execute(select(files.c.id, files.c.path).where(files.c.case_id == store.case_id)).all()
    return [{"_id": int(i), "path": str(p)} for i, p in rows]


def test_the_detail_says_whether_the_case_was_grouped_at_all(scanned: tuple[CaseStore, list[User]]) -> None:
    store, _ = scanned
    rows, _ = review.grid_page(store, review.GridFilters(), None, 50, "vic-us")
    target = next(r["file_id"] for r in rows if r["path"].endswith("red-bicycle.png"))
    assert review.file_detail(store, target, "vic-us")["group_run"] is None  # never grouped: say so
    store.run_groups(actor="lead")
    detail = review.file_detail(store, target, "vic-us")
    assert detail["group_run"] is not None and detail["group"] is None  # grouped, and in no group
