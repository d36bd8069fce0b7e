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
