"""write_results / iter_file_rows round trips, idempotence, paging and thumbnails."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from cairn.model import Finding, ImageInfo, ItemError
from cairn.store import CaseStore

from .helpers import make_result, raw_engine

ROW_KEYS = [
    "path",
    "size",
    "type",
    "md5",
    "sha1",
    "sha256",
    "pdq",
    "pdq_quality",
    "width",
    "height",
    "error",
    "notes",
    "evidence",
    "mime",
    "extension_mismatch",
    "frames",
    "is_container",
    "mtime",
]

# A tiny, valid-looking lossless WebP header (VP8L, 3x2), made up here; only the header is parsed.
WEBP_3X2 = (
    b"RIFF"
    + (26).to_bytes(4, "little")
    + b"WEBPVP8L"
    + (13).to_bytes(4, "little")
    + b"\x2f"
    + ((3 - 1) | ((2 - 1) << 14)).to_bytes(4, "little")
    + b"\x00" * 9
)


def _setup(store: CaseStore, root: str = "/evidence/disk1") -> tuple[int, int]:
    ev = store.register_evidence(root, "directory", "examiner", {"source": "test"})
    run = store.start_run(ev, "0.1.0", {"workers": 1}, "examiner")
    return ev, run


def test_round_trip_everything(store: CaseStore) -> None:
    ev, run = _setup(store)
    shared = "ab" * 32
    photo = make_result(
        "pics/photo.jpg",
        size=1234,
        sha256=shared,
        mime="image/jpeg",
        type_label="jpeg",
        image=ImageInfo(640, 480, "RGB", "JPEG", frames=1, orientation=6, exif=b"Exif\x00\x00MM\x00*"),
        thumbnail=WEBP_3X2,
        findings=[
            Finding("exif", "camera", {"make": "Ünïcode Cam", "n": 2}, where="exif:0x010f"),
            Finding("exif", "gps", {"lat": 1.5}),
        ],
    )
    photo.hashes["pdq"] = "f" * 64
    photo.hash_quality["pdq"] = 87
    copy = make_result(
        "copies/photo-copy.jpg", sha256=shared, thumbnail=b"ignored: same sha256 already stored"
    )
    broken = make_result(
        "archive.zip!/inner/bad.png",
        type_label="png",
        extension_mismatch=True,
        errors=[ItemError("image_corrupt", "truncated"), ItemError("signal_failed", "pdq: boom")],
    )
    container = make_result("archive.zip", is_container=True, type_label="zip", bytes_read=99)
    assert store.write_results(run, ev, [photo, copy, broken, container]) == 4

    rows = {r["path"]: r for r in store.iter_file_rows()}
    assert list(rows) == sorted(rows)
    p = rows["pics/photo.jpg"]
    assert list(p) == ROW_KEYS
    assert p["size"] == 1234 and p["type"] == "jpeg" and p["mime"] == "image/jpeg"
    assert p["sha256"] == shared and p["md5"] == shared[:32] and p["sha1"] == shared[:40]
    assert p["pdq"] == "f" * 64 and p["pdq_quality"] == 87
    assert (p["width"], p["height"], p["frames"]) == (640, 480, 1)
    assert p["error"] is None and p["evidence"] == "/evidence/disk1"
    assert p["extension_mismatch"] is False and p["is_container"] is False
    b = rows["archive.zip!/inner/bad.png"]
    assert b["error"] == "image_corrupt: truncated; signal_failed: pdq: boom"
    assert b["extension_mismatch"] is True and b["width"] is None and b["pdq"] is None
    assert rows["archive.zip"]["is_container"] is True

    assert store.thumbnail(shared) == WEBP_3X2
    assert store.thumbnail("00" * 32) is None
    assert store.counts() == {
        "files": 4,
        "errors": 1,
        "images": 1,
        "containers": 1,
        "bytes": 1234 + 30,
        "bytes_read": 99,
    }
    assert store.done_paths(ev) == set(rows)

    engine = raw_engine(store.case_dir, _url(store))
    try:
        with engine.connect() as conn:
            f = (
                conn.execute(text("SELECT * FROM files WHERE path = 'archive.zip!/inner/bad.png'"))
                .mappings()
                .one()
            )
            assert f["parent_path"] == "archive.zip" and f["name"] == "bad.png" and f["depth"] == 1
            assert f["error_code"] == "image_corrupt" and f["run_id"] == run
            errs = conn.execute(
                text("SELECT ordinal, code, message FROM file_errors WHERE file_id = :f ORDER BY ordinal"),
                {"f": f["id"]},
            ).all()
            assert [tuple(e) for e in errs] == [
                (0, "image_corrupt", "truncated"),
                (1, "signal_failed", "pdq: boom"),
            ]
            pid = conn.execute(text("SELECT id, mtime FROM files WHERE path = 'pics/photo.jpg'")).one()
            assert pid[1] == 1_700_000_000.25
            img = conn.execute(
                text("SELECT orientation, exif, mode, format FROM images WHERE file_id = :f"), {"f": pid[0]}
            ).one()
            assert (img[0], bytes(img[1]), img[2], img[3]) == (6, b"Exif\x00\x00MM\x00*", "RGB", "JPEG")
            found = conn.execute(
                text("SELECT signal, kind, data_json, location FROM findings WHERE file_id = :f ORDER BY id"),
                {"f": pid[0]},
            ).all()
            assert [(s, k, json.loads(d), loc) for s, k, d, loc in found] == [
                ("exif", "camera", {"make": "Ünïcode Cam", "n": 2}, "exif:0x010f"),
                ("exif", "gps", {"lat": 1.5}, None),
            ]
            thumbs = conn.execute(text("SELECT sha256, width, height FROM thumbnails")).all()
            assert [tuple(t) for t in thumbs] == [(shared, 3, 2)]
    finally:
        engine.dispose()


def _url(store: CaseStore) -> str | None:
    return None if store.db_url.startswith("sqlite") else store._url  # test-only peek at the real URL


def test_resumed_run_stores_nothing_twice(store: CaseStore) -> None:
    ev, run = _setup(store)
    batch = [make_result(f"dir/f{i:03d}.txt", errors=[ItemError("unreadable", "io")]) for i in range(50)]
    assert store.write_results(run, ev, batch) == 50
    assert store.counts()["files"] == 50
    assert store.counts()["errors"] == 50
    # a resumed scan (new run) re-sending items an earlier run stored stores nothing twice
    run2 = store.start_run(ev, "0.1.0", {"workers": 1}, "examiner")
    outcome = store.store_results(run2, ev, batch + [make_result("dir/new.txt")])
    assert (outcome.stored, len(outcome.skipped_paths), outcome.recorded) == (1, 50, [])
    assert len(list(store.iter_file_rows(ev))) == 51
    assert store.write_results(run2, ev, []) == 0


def test_same_path_in_two_evidence_roots(store: CaseStore) -> None:
    ev1, run1 = _setup(store, "/evidence/a")
    ev2, run2 = _setup(store, "/evidence/b")
    assert store.write_results(run1, ev1, [make_result("same.txt")]) == 1
    assert store.write_results(run2, ev2, [make_result("same.txt")]) == 1
    rows = list(store.iter_file_rows())
    assert [(r["evidence"], r["path"]) for r in rows] == [
        ("/evidence/a", "same.txt"),
        ("/evidence/b", "same.txt"),
    ]
    assert [r["evidence"] for r in store.iter_file_rows(ev2)] == ["/evidence/b"]
    assert [e["files"] for e in store.evidence_list()] == [1, 1]
    with pytest.raises(ValueError):
        store.write_results(run1, ev2, [make_result("other.txt")])


def test_iter_file_rows_pages_in_path_order(store: CaseStore) -> None:
    ev1, run1 = _setup(store, "/evidence/a")
    ev2, run2 = _setup(store, "/evidence/b")
    names = [f"d{i % 7}/file-{i:05d}-é.bin" for i in range(2345)] + ["Z.txt", "a.txt", "a!/b", "a.zip!/x"]
    assert store.write_results(run1, ev1, [make_result(n) for n in names]) == len(names)
    assert store.write_results(run2, ev2, [make_result(n) for n in names[:30]]) == 30
    got = [(r["evidence"], r["path"]) for r in store.iter_file_rows(page_size=100)]
    want = [("/evidence/a", n) for n in sorted(names)] + [("/evidence/b", n) for n in sorted(names[:30])]
    assert got == want
    assert len(list(store.iter_file_rows(ev1, page_size=len(names)))) == len(names)  # exact page boundary
    assert [r["path"] for r in store.iter_file_rows(ev2)] == sorted(names[:30])
    assert all(list(r) == ROW_KEYS for r in store.iter_file_rows(ev2, page_size=7))


def test_iter_file_rows_empty(store: CaseStore) -> None:
    assert list(store.iter_file_rows()) == []
    assert store.counts() == {
        "files": 0,
        "errors": 0,
        "images": 0,
        "containers": 0,
        "bytes": 0,
        "bytes_read": 0,
    }


def test_thumbnail_shared_across_evidence(store: CaseStore) -> None:
    ev1, run1 = _setup(store, "/evidence/a")
    ev2, run2 = _setup(store, "/evidence/b")
    sha = "cd" * 32
    store.write_results(run1, ev1, [make_result("x.png", sha256=sha, thumbnail=b"first")])
    store.write_results(run2, ev2, [make_result("y.png", sha256=sha, thumbnail=b"second")])
    assert store.thumbnail(sha) == b"first"
    engine = raw_engine(store.case_dir, _url(store))
    try:
        with engine.connect() as conn:
            assert conn.execute(select(text("count(*)")).select_from(text("thumbnails"))).scalar() == 1
    finally:
        engine.dispose()
