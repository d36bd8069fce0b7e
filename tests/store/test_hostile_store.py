"""Hostile values reach the case database: every text field has one storable form on both backends, a
refused item is stored with less and a ``store_failed`` error, and a path collision is an error on the item
(stored under a distinct path), never a silent drop. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

from sqlalchemy import text

from cairn.model import Finding, ItemError, ItemMeta
from cairn.pipeline.scan import scan
from cairn.settings import ScanSettings
from cairn.store import CaseStore
from cairn.store.case_store import COLLISION_MARK

from .helpers import make_result, raw_engine

NUL_TARGET = "../../etc/pass\x00wd.jpg"


def _setup(store: CaseStore) -> tuple[int, int]:
    ev = store.register_evidence("/evidence/hostile", "directory", "examiner", {})
    return ev, store.start_run(ev, "0.1.0", {"workers": 1}, "examiner")


def _rows(store: CaseStore, db_url: str | None, sql: str) -> list[tuple[object, ...]]:
    engine = raw_engine(store.case_dir, db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def _zip_with_nul_symlink() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        link = zipfile.ZipInfo("link-to-nowhere")
        link.create_system = 3
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, NUL_TARGET.encode())
        zf.writestr("inside/innocent.txt", b"an innocent text\n")
    return buf.getvalue()


def _tar_with_nul_linkpath() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        link = tarfile.TarInfo("pax-link")
        link.type = tarfile.SYMTYPE
        link.pax_headers = {"linkpath": NUL_TARGET}
        tf.addfile(link)
        data = b"benign tar member\n"
        member = tarfile.TarInfo("plain.txt")
        member.size = len(data)
        tf.addfile(member, io.BytesIO(data))
    return buf.getvalue()


def test_scan_with_nul_link_targets_stores_every_row(tmp_path: Path, db_url: str | None) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "links.zip").write_bytes(_zip_with_nul_symlink())
    (evidence / "links.tar").write_bytes(_tar_with_nul_linkpath())
    for i in range(5):
        (evidence / f"note-{i}.txt").write_text(f"benign note {i}\n", encoding="utf-8")
    with CaseStore.open(tmp_path / "case", db_url) as store:
        summary = scan(evidence, store, ScanSettings(workers=1), actor="examiner", show_progress=False)
        paths = {row["path"] for row in store.iter_file_rows()}
        targets = _rows(store, db_url, "SELECT path, link_target FROM files WHERE link_target IS NOT NULL")
    assert summary.status == "completed"
    assert {f"note-{i}.txt" for i in range(5)} <= paths
    assert {"links.zip", "links.zip!/inside/innocent.txt", "links.tar", "links.tar!/plain.txt"} <= paths
    assert {"links.zip!/link-to-nowhere", "links.tar!/pax-link"} <= paths
    # a zip "symlink" holding data is read as data (Info-ZIP); the tar link keeps its target, escaped
    assert ("links.tar!/pax-link", "../../etc/pass%00wd.jpg") in targets
    assert summary.error_codes.get("store_failed", 0) == 0


def test_every_text_field_has_one_storable_form(store: CaseStore, db_url: str | None) -> None:
    ev, run = _setup(store)
    hostile = make_result(
        "dir/odd\x00name.txt",
        mime="text/plain\x00; x=\udcff",
        type_label="t" * 200,
        findings=[Finding("exif", "camera", {"make": "Cam\x00era \udc80"}, where="at\x00here")],
        errors=[ItemError("image_corrupt", "decoder said: bad\x00byte \ud800")],
    )
    outcome = store.store_results(run, ev, [hostile, make_result("dir/plain.txt")])
    assert (outcome.stored, outcome.recorded) == (2, [])
    rows = _rows(store, db_url, "SELECT path, name, mime, type_label, error FROM files ORDER BY path")
    assert rows[0] == (
        "dir/odd%00name.txt",
        "odd%00name.txt",
        "text/plain%00; x=%FF",
        "t" * 64,
        "image_corrupt: decoder said: bad%00byte %uD800",
    )
    # JSON already writes NUL as \u0000; a lone surrogate (which JSON would keep raw) is escaped
    found = _rows(store, db_url, "SELECT data_json, location FROM findings")
    assert found == [('{"make":"Cam\\u0000era %80"}', "at%00here")]


def test_a_refused_item_is_stored_with_less_and_the_batch_goes_on(store: CaseStore, db_url: str | None) -> None:
    ev, run = _setup(store)
    poisoned = make_result("huge.bin")
    poisoned.meta = ItemMeta(size=2**70, mode=2**80, mtime=1.0)  # no backend stores an integer this large
    batch = [make_result(f"ok-{i}.txt") for i in range(5)]
    outcome = store.store_results(run, ev, [*batch[:2], poisoned, *batch[2:]])
    assert outcome.stored == 6
    [(path, err, had_error)] = outcome.recorded
    assert (path, err.code, had_error) == ("huge.bin", "store_failed", False)
    assert "metadata" in err.message and "refused" in err.message
    rows = {r["path"]: r for r in store.iter_file_rows(ev)}
    assert set(rows) == {"huge.bin", *(f"ok-{i}.txt" for i in range(5))}
    assert rows["huge.bin"]["size"] is None
    assert rows["huge.bin"]["sha256"] == poisoned.hashes["sha256"]  # its details were kept
    assert rows["huge.bin"]["error"].startswith("store_failed: the database refused this item's rows (")
    assert all(rows[f"ok-{i}.txt"]["size"] == 10 and rows[f"ok-{i}.txt"]["error"] is None for i in range(5))


def test_a_collision_in_one_run_is_an_error_on_the_item(store: CaseStore) -> None:
    ev, run = _setup(store)
    first, second, third = (make_result("dir/same.txt", sha256=c * 64) for c in "abc")
    outcome = store.store_results(run, ev, [first, second])
    later = store.store_results(run, ev, [third])  # a later batch of the same run
    assert (outcome.stored, later.stored) == (2, 1)
    assert [(p, e.code) for p, e, _ in outcome.recorded + later.recorded] == [
        ("dir/same.txt", "path_collision"),
        ("dir/same.txt", "path_collision"),
    ]
    rows = {r["path"]: r for r in store.iter_file_rows(ev)}
    assert {p: r["sha256"] for p, r in rows.items()} == {
        "dir/same.txt": "a" * 64,
        f"dir/same.txt{COLLISION_MARK}2": "b" * 64,
        f"dir/same.txt{COLLISION_MARK}3": "c" * 64,
    }
    assert rows["dir/same.txt"]["error"] is None
    assert rows[f"dir/same.txt{COLLISION_MARK}3"]["error"].startswith("path_collision: ")
    assert store.counts()["errors"] == 2


def test_scan_counts_collisions_as_item_errors(tmp_path: Path, db_url: str | None) -> None:
    from cairn.pipeline.scan import ScanSummary, _record_outcome

    with CaseStore.open(tmp_path / "case", db_url) as store:
        ev, run = _setup(store)
        summary = ScanSummary(run_id=run, evidence_id=ev, status="running")
        skipped: set[str] = set()
        _record_outcome(summary, store.store_results(run, ev, [make_result("x"), make_result("x")]), skipped)
        assert (summary.path_collisions, summary.errors, summary.error_codes) == (1, 1, {"path_collision": 1})
        assert len(list(store.iter_file_rows(ev))) == 2
