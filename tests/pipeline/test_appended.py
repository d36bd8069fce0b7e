"""A zip appended to a picture or behind an executable stub is opened and its members listed
(issue 10, item 13); the picture is still hashed and decoded as a picture."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from cairn.pipeline.scan import scan
from cairn.settings import ScanSettings
from cairn.store import CaseStore
from tests.sources import write, zip_bytes


def _picture(fmt: str) -> bytes:
    y, x = np.mgrid[0:96, 0:128]
    pixels = np.stack([x * 2, y * 2, (x + y) % 256], axis=-1).astype(np.uint8)  # a benign gradient
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt)
    return buf.getvalue()


def test_appended_archives_are_opened_and_noted(tmp_path: Path) -> None:
    hidden = zip_bytes([("hidden.txt", b"behind the picture"), ("inner/notes.txt", b"more text")])
    png, jpeg = _picture("PNG"), _picture("JPEG")
    stub = b"MZ" + bytes(126) + b"This program cannot be run in DOS mode.\r\n" + bytes(300)
    ev = tmp_path / "evidence"
    write(ev / "pic.png", png + hidden)
    write(ev / "photo.jpg", jpeg + hidden)
    write(ev / "setup.exe", stub + zip_bytes([("payload.txt", b"stub payload")]))
    write(ev / "plain.png", png)
    write(ev / "mz.exe", stub)  # a stub alone is just a file

    with CaseStore.open(tmp_path / "case") as store:
        summary = scan(ev, store, ScanSettings(workers=1), show_progress=False)
        rows = {r["path"]: r for r in store.iter_file_rows()}
    assert summary.path_collisions == 0
    assert set(rows) == {
        "pic.png", "pic.png!/hidden.txt", "pic.png!/inner/notes.txt",
        "photo.jpg", "photo.jpg!/hidden.txt", "photo.jpg!/inner/notes.txt",
        "setup.exe", "setup.exe!/payload.txt", "plain.png", "mz.exe",
    }
    for name, label, data in (("pic.png", "png", png + hidden), ("photo.jpg", "jpeg", jpeg + hidden)):
        row = rows[name]
        assert row["type"] == label and row["sha256"] == hashlib.sha256(data).hexdigest()
        assert (row["width"], row["height"]) == (128, 96) and row["pdq"], "still decoded as a picture"
        assert row["error"] is None and "appended_data" in (row["notes"] or "")
        assert rows[f"{name}!/hidden.txt"]["sha256"] == hashlib.sha256(b"behind the picture").hexdigest()
    assert rows["pic.png"]["pdq"] == rows["plain.png"]["pdq"]  # the appended bytes change no pixel
    assert "appended_data" in (rows["setup.exe"]["notes"] or "") and rows["setup.exe"]["type"] == "pe"
    assert rows["setup.exe!/payload.txt"]["sha256"] == hashlib.sha256(b"stub payload").hexdigest()
    assert not rows["plain.png"]["notes"] and not rows["mz.exe"]["notes"]


def test_a_sfx_zip_with_offsets_counted_from_the_file_start_is_opened(tmp_path: Path) -> None:
    stub = b"\x7fELF" + bytes(400)
    buf = io.BytesIO()
    buf.write(stub)  # zipfile writes after what the stream holds: offsets count from the file start
    with zipfile.ZipFile(buf, "a") as zf:
        zf.writestr("inside.txt", b"absolute offsets")
    write(tmp_path / "ev" / "run.bin", buf.getvalue())
    with CaseStore.open(tmp_path / "case") as store:
        scan(tmp_path / "ev", store, ScanSettings(workers=1), show_progress=False)
        rows = {r["path"]: r for r in store.iter_file_rows()}
    assert set(rows) == {"run.bin", "run.bin!/inside.txt"}
    assert "appended_data" in (rows["run.bin"]["notes"] or "")


def test_a_zip_behind_any_other_content_is_opened_and_a_stray_signature_is_not(tmp_path: Path) -> None:
    hidden = zip_bytes([("hidden.txt", b"behind the text")])
    ev = tmp_path / "evidence"
    write(ev / "notes.txt", b"a red bicycle on a beach\n" * 40 + hidden)  # cat notes.txt secret.zip > notes.txt
    write(ev / "noise.bin", np.random.default_rng(5).bytes(5000) + hidden)
    write(ev / "stray.bin", b"\x00" * 100 + b"PK\x05\x06" + bytes(18) + b"trailing")  # no directory behind it
    with CaseStore.open(tmp_path / "case") as store:
        scan(ev, store, ScanSettings(workers=1), show_progress=False)
        rows = {r["path"]: r for r in store.iter_file_rows()}
    assert set(rows) == {"notes.txt", "notes.txt!/hidden.txt", "noise.bin", "noise.bin!/hidden.txt", "stray.bin"}
    assert "appended_data" in (rows["notes.txt"]["notes"] or "")
    assert rows["noise.bin!/hidden.txt"]["sha256"] == hashlib.sha256(b"behind the text").hexdigest()
    assert rows["stray.bin"]["notes"] is None and rows["stray.bin"]["error"] is None
