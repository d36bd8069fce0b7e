"""Issue 10 item 24: a file that grows, shrinks or is rewritten between its listing and its read (or while
it is read) gets ``changed_during_scan``, and the size stored is that of the bytes hashed."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

from PIL import Image

from cairn import errors
from cairn.model import EvidenceItem, ItemMeta, Locator
from cairn.pipeline.task import process_item
from cairn.settings import Limits, ScanSettings
from cairn.sources.folder import FolderSource


def _listed(path: Path) -> EvidenceItem:
    """The item as the folder walk lists it (its size and times from ``lstat``)."""
    st = path.lstat()
    meta = ItemMeta(size=st.st_size, mtime=st.st_mtime, atime=st.st_atime, ctime=st.st_ctime, mode=st.st_mode)
    return EvidenceItem(Locator((path.name,)), meta, os_path=str(path))


def test_an_unchanged_file_has_no_error(tmp_path: Path) -> None:
    path = tmp_path / "same.bin"
    path.write_bytes(os.urandom(10_000))
    result = process_item(_listed(path), ScanSettings())
    assert result.errors == [] and result.meta.size == 10_000


def test_a_file_that_grew_after_listing_stores_the_bytes_hashed(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    path.write_bytes(b"first line\n" * 100)
    item = _listed(path)
    with path.open("ab") as fh:
        fh.write(b"appended while the scan ran\n" * 50)
    os.utime(path, (item.meta.atime or 0, (item.meta.mtime or 0) + 5))
    data = path.read_bytes()
    result = process_item(item, ScanSettings())
    assert [e.code for e in result.errors] == [errors.CHANGED_DURING_SCAN]
    assert result.hashes["sha256"] == hashlib.sha256(data).hexdigest()
    assert result.meta.size == len(data) == result.bytes_read
    assert "listed at 1,100 bytes" in result.errors[0].message and "modification time" in result.errors[0].message


def test_a_file_that_shrank_after_listing(tmp_path: Path) -> None:
    path = tmp_path / "cut.bin"
    path.write_bytes(os.urandom(50_000))
    item = _listed(path)
    os.truncate(path, 20_000)
    result = process_item(item, ScanSettings())
    assert [e.code for e in result.errors] == [errors.CHANGED_DURING_SCAN]
    assert result.meta.size == 20_000 and "50,000" in result.errors[0].message


def test_a_picture_that_grew_past_the_decode_limit_is_hashed_in_full_not_decoded(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buf, "PNG")
    path = tmp_path / "pic.png"
    path.write_bytes(buf.getvalue())
    item = _listed(path)
    with path.open("ab") as fh:
        fh.write(os.urandom(200_000))
    result = process_item(item, ScanSettings(limits=Limits(max_image_file_bytes=100_000)))
    assert [e.code for e in result.errors] == [errors.IMAGE_BOMB, errors.CHANGED_DURING_SCAN]
    assert result.hashes["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert result.meta.size == path.stat().st_size and "pdq" not in result.hashes


def test_the_folder_walk_meta_matches_a_quiet_file(tmp_path: Path) -> None:
    """The check compares like with like: a file the walk lists and nobody touches is never flagged."""
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "a.bin").write_bytes(b"x" * 4096)
    source = FolderSource(tmp_path / "ev")
    items = [i for i in source.items(Limits(), lambda p: False) if i.os_path]
    assert items and all(process_item(i, ScanSettings()).errors == [] for i in items)
