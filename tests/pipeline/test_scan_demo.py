"""`cairn demo` then a scan: every generated file listed once with correct hashes, bad ones recorded."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path
from typing import Any

from PIL import Image
from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_bytes

from cairn.demo import DemoEntry
from cairn.model import CONTAINER_SEP, storable_name
from cairn.pipeline.scan import scan
from cairn.settings import ScanSettings
from cairn.signals.pdq import pdq_distance
from cairn.sources.containers import sanitise_member_name
from cairn.store import CaseStore
from tests.conftest import ScannedDemo, snapshot


def _logical(entry: DemoEntry) -> str:
    """The path cairn gives a manifest entry: member names sanitised as the sources promise."""
    first, *members = entry.path.split(CONTAINER_SEP)
    return CONTAINER_SEP.join([storable_name(first), *(sanitise_member_name(m)[0] for m in members)])


def _read(evidence: Path, entry: DemoEntry) -> bytes:
    """Bytes of an entry, read independently of cairn's sources (zipfile/tarfile by raw member name)."""
    first, *members = entry.path.split(CONTAINER_SEP)
    data = (evidence / first).read_bytes()
    for member in members:
        if data[:2] == b"PK":
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                data = zf.read(member)
        else:
            with tarfile.open(fileobj=io.BytesIO(data)) as tf:
                fh = tf.extractfile(member)
                assert fh is not None
                data = fh.read()
    return data


def _rows(store: CaseStore) -> dict[str, dict[str, Any]]:
    rows = list(store.iter_file_rows())
    paths = [r["path"] for r in rows]
    assert len(paths) == len(set(paths)), "a file is listed twice"
    return {r["path"]: r for r in rows}


def test_every_manifest_entry_is_listed_with_correct_digests(scanned_demo: ScannedDemo, demo_store: CaseStore) -> None:
    rows = _rows(demo_store)
    checked = 0
    for entry in scanned_demo.manifest.entries:
        row = rows.get(_logical(entry))
        assert row is not None, f"{entry.path} missing from the case"
        if entry.sha256 is None or entry.bad_codes and "archive_bomb" in entry.bad_codes:
            continue
        data = _read(scanned_demo.evidence, entry)
        assert row["sha256"] == hashlib.sha256(data).hexdigest() == entry.sha256, entry.path
        assert row["md5"] == hashlib.md5(data).hexdigest(), entry.path
        assert row["sha1"] == hashlib.sha1(data).hexdigest(), entry.path
        assert row["size"] == len(data), entry.path
        checked += 1
    assert checked > 80


def test_pdq_equals_the_reference_for_rgb_and_grey_images(scanned_demo: ScannedDemo, demo_store: CaseStore) -> None:
    rows = _rows(demo_store)
    compared = 0
    for entry in scanned_demo.manifest.entries:
        if not entry.has("image") or entry.bad_codes:
            continue
        data = _read(scanned_demo.evidence, entry)
        row = rows[_logical(entry)]
        assert row["pdq"] is not None and len(row["pdq"]) == 64, entry.path
        with Image.open(io.BytesIO(data)) as im:
            mode, size = im.mode, im.size
        assert (row["width"], row["height"]) == size
        if mode in ("RGB", "L"):
            expected, quality = pdq_from_bytes(data)
            assert (row["pdq"], row["pdq_quality"]) == (expected, quality), entry.path
            compared += 1
    assert compared > 50


def test_bad_input_is_recorded_with_its_code(scanned_demo: ScannedDemo, demo_store: CaseStore) -> None:
    rows = _rows(demo_store)
    for entry in scanned_demo.manifest.entries:
        for code in entry.bad_codes:
            error = rows[_logical(entry)]["error"] or ""
            assert error.startswith(code) or f"; {code}:" in error, (entry.path, error)
    assert scanned_demo.summary.status == "completed"
    assert scanned_demo.summary.path_collisions == 0


def test_lying_extensions_and_near_duplicates(scanned_demo: ScannedDemo, demo_store: CaseStore) -> None:
    rows = _rows(demo_store)
    for entry in scanned_demo.manifest.entries:
        row = rows[_logical(entry)]
        assert bool(row["extension_mismatch"]) == entry.has("ext_mismatch"), entry.path
        for value in entry.role_values("near_duplicate_of:"):
            original = value.rsplit(":", 1)[0]
            other = rows[_logical(next(e for e in scanned_demo.manifest.entries if e.path == original))]
            assert pdq_distance(row["pdq"], other["pdq"]) <= 31, (entry.path, original)
        for original in entry.role_values("duplicate_of:"):
            assert row["sha256"] == rows[original]["sha256"]


def test_evidence_is_never_written(scanned_demo: ScannedDemo) -> None:
    assert snapshot(scanned_demo.evidence) == scanned_demo.before


def test_rescan_adds_nothing_and_a_second_case_is_identical(scanned_demo: ScannedDemo, tmp_path: Path) -> None:
    with CaseStore.open(scanned_demo.case_dir) as store:
        again = scan(scanned_demo.evidence, store, ScanSettings(workers=1), show_progress=False)
        first_rows = list(store.iter_file_rows())
    assert again.files == 0 and again.skipped_already_done == len(first_rows)
    assert again.evidence_digest == scanned_demo.summary.evidence_digest
    with CaseStore.open(tmp_path / "other") as other:
        fresh = scan(scanned_demo.evidence, other, ScanSettings(workers=1), show_progress=False)
        second_rows = list(other.iter_file_rows())
    assert fresh.evidence_digest == scanned_demo.summary.evidence_digest
    strip = ("evidence",)
    assert [{k: v for k, v in r.items() if k not in strip} for r in first_rows] == [
        {k: v for k, v in r.items() if k not in strip} for r in second_rows
    ]


def test_frames_and_exif_are_recorded(scanned_demo: ScannedDemo, demo_store: CaseStore) -> None:
    import sqlite3

    rows = _rows(demo_store)
    multi = [e for e in scanned_demo.manifest.entries if e.has("frames:")]
    assert multi, "the demo must hold multi-frame pictures"
    for entry in multi:
        assert rows[_logical(entry)]["frames"] == int(entry.role_values("frames:")[0]), entry.path
    exif_entries = [e for e in scanned_demo.manifest.entries if e.has("exif")]
    assert exif_entries
    with sqlite3.connect(scanned_demo.case_dir / "case.db") as con:
        for entry in exif_entries:
            orientation, exif = con.execute(
                "SELECT i.orientation, i.exif FROM images i JOIN files f ON f.id = i.file_id WHERE f.path = ?",
                (_logical(entry),),
            ).fetchone()
            data = _read(scanned_demo.evidence, entry)
            assert orientation == 6
            assert exif is not None and bytes(exif) in data  # the raw block, kept verbatim
