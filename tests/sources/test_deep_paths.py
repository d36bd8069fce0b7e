"""A tree nested deeper than PATH_MAX hides nothing: every file in it is read, hashed and opened.

Such folders are real (made with relative ``mkdir``/``openat``, as the test does); a walker using whole
paths only would list them ``unreadable`` and never hash what they hold.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

from cairn.pipeline.scan import scan
from cairn.settings import ScanSettings
from cairn.store import CaseStore

LEVELS = 24  # 24 folders of 250 characters: about 6,000 bytes, beyond Linux's 4,096-byte PATH_MAX
NAME = "d" * 250


def _deep_tree(root: Path) -> str:
    """Write the tree with relative calls only; return the relative folder holding the deep files."""
    root.mkdir()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(LEVELS):
            os.mkdir(NAME, dir_fd=fd)
            nxt = os.open(NAME, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("inside.txt", "a red bicycle on a beach")
        for name, data in (("hidden.txt", b"deep content"), ("deep.zip", buf.getvalue())):
            out = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
            os.write(out, data)
            os.close(out)
        os.symlink("loop", "loop", dir_fd=fd)
    finally:
        os.close(fd)
    return "/".join([NAME] * LEVELS)


def test_files_deeper_than_path_max_are_hashed_and_opened(tmp_path: Path, db_url: str | None) -> None:
    deep = _deep_tree(tmp_path / "ev")
    assert len(str(tmp_path / "ev" / deep)) > 4096
    with CaseStore.open(tmp_path / "case", db_url) as store:
        summary = scan(tmp_path / "ev", store, ScanSettings(workers=2), show_progress=False)
        rows = {r["path"]: r for r in store.iter_file_rows()}
    assert summary.status == "completed"
    hidden = rows[f"{deep}/hidden.txt"]
    assert hidden["error"] is None and hidden["sha256"] == hashlib.sha256(b"deep content").hexdigest()
    member = rows[f"{deep}/deep.zip!/inside.txt"]
    assert member["sha256"] == hashlib.sha256(b"a red bicycle on a beach").hexdigest()
    assert rows[f"{deep}/loop"]["error"].startswith("symlink_loop")
    assert summary.error_codes == {"symlink_loop": 1}
