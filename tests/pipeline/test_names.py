"""Hostile and unusual names on disk end up as distinct, storable logical paths; nothing is dropped."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

from cairn.pipeline.scan import scan
from cairn.settings import ScanSettings
from cairn.store import CaseStore


def test_unusual_names_are_all_stored_once(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "photos!").mkdir()
    (evidence / "photos!" / "x.txt").write_bytes(b"in a folder named photos!")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("x.txt", "in a zip named photos")
    (evidence / "photos").write_bytes(buf.getvalue())
    latin1 = os.path.join(os.fsencode(evidence), b"caf\xe9.txt")  # a Latin-1 name from an old drive
    with open(latin1, "wb") as fh:
        fh.write(b"latin-1 name")
    with open(os.path.join(os.fsencode(evidence), b"line\nbreak.txt"), "wb") as fh:
        fh.write(b"newline in the name")

    with CaseStore.open(tmp_path / "case") as store:
        summary = scan(evidence, store, ScanSettings(workers=1), show_progress=False)
        rows = {r["path"]: r for r in store.iter_file_rows()}
    assert summary.files == 5 and summary.path_collisions == 0
    assert set(rows) == {"photos%21/x.txt", "photos", "photos!/x.txt", "caf%E9.txt", "line%0Abreak.txt"}
    assert rows["caf%E9.txt"]["sha256"] == hashlib.sha256(b"latin-1 name").hexdigest()
    assert rows["photos%21/x.txt"]["sha256"] == hashlib.sha256(b"in a folder named photos!").hexdigest()


def _write(path: bytes, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)


def test_names_that_used_to_collide_are_eleven_rows_every_time(tmp_path: Path, db_url: str | None) -> None:
    """Issue 10 item 6: 11 items whose names differ only by what the escaping shows are 11 rows, always."""
    evidence = os.fsencode(tmp_path / "evidence")
    names = [b"a\xffb", b"a%FFb", b"x\ny", b"x%0Ay", b"d!/f", b"d%21/f"]
    for i, name in enumerate(names):
        _write(os.path.join(evidence, name), f"file {i}".encode())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, member in enumerate(["x\ny", "x%0Ay", "d!/f", "d%21/f"]):
            zf.writestr(member, f"member {i}")
    _write(os.path.join(evidence, b"z.zip"), buf.getvalue())

    digests = []
    for run in range(3):
        with CaseStore.open(tmp_path / f"case{run}", db_url) as store:
            summary = scan(Path(os.fsdecode(evidence)), store, ScanSettings(workers=2), show_progress=False)
            rows = {r["path"]: r["sha256"] for r in store.iter_file_rows()}
        assert summary.files == 11 and summary.path_collisions == 0
        assert set(rows) == {
            "a%FFb", "a%25FFb", "x%0Ay", "x%250Ay", "d%21/f", "d%2521/f",
            "z.zip", "z.zip!/x%0Ay", "z.zip!/x%250Ay", "z.zip!/d%21/f", "z.zip!/d%2521/f",
        }
        assert rows["a%25FFb"] == hashlib.sha256(b"file 1").hexdigest()
        assert rows["z.zip!/d%2521/f"] == hashlib.sha256(b"member 3").hexdigest()
        digests.append(summary.evidence_digest)
    assert len(set(digests)) == 1


def test_an_evidence_root_that_is_not_utf8_is_scanned_and_verifies(tmp_path: Path, db_url: str | None) -> None:
    root = os.path.join(os.fsencode(tmp_path), b"seized-\xff-drive")
    _write(os.path.join(root, b"a.txt"), b"a red bicycle on a beach")
    evidence = Path(os.fsdecode(root))
    with CaseStore.open(tmp_path / "case", db_url) as store:
        summary = scan(evidence, store, ScanSettings(workers=1), show_progress=False)
        assert summary.status == "completed" and summary.files == 1
        assert [e["root"] for e in store.evidence_list()] == [str(tmp_path / "seized-%FF-drive")]
        assert store.audit_verify() == []
        again = scan(evidence, store, ScanSettings(workers=1), show_progress=False)  # found again, resumed
        assert again.files == 0 and again.skipped_already_done == 1


def test_a_case_folder_that_is_not_utf8_is_refused_with_a_message(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cairn.cli.main import app

    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "a.txt").write_bytes(b"x")
    case = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"case-\xff"))
    result = CliRunner().invoke(app, ["scan", str(tmp_path / "ev"), "--case", case, "--no-progress"])
    assert result.exit_code == 2 and "not valid UTF-8" in result.output
    assert not os.path.exists(case)
