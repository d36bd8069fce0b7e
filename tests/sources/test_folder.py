"""FolderSource, FileSource and open_source on real files built by the tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cairn import errors as E
from cairn.settings import Limits
from cairn.sources.archive_file import ArchiveFileSource, FileSource
from cairn.sources.folder import FolderSource
from cairn.sources.open import open_source
from tests.sources import blob, by_path, codes, collect, content, tar_bytes, write, zip_bytes
from tests.unprivileged import run_unprivileged, world_traversable_dir


def _snapshot(root: Path) -> dict[str, tuple[bytes, int, int]]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = Path(dirpath, f)
            if p.is_symlink() or not p.is_file():
                continue
            st = p.stat()
            out[str(p)] = (p.read_bytes(), st.st_mtime_ns, st.st_size)
    return out


def test_walk_order_meta_and_content(tmp_path: Path) -> None:
    write(tmp_path / "b.txt", b"bee")
    write(tmp_path / "a" / "z.bin", blob(1, 100))
    write(tmp_path / "a" / "c.txt", b"sea")
    (tmp_path / "empty").mkdir()
    os.utime(tmp_path / "b.txt", (1_500_000_000, 1_400_000_000))
    items = collect(FolderSource(tmp_path))
    assert [i.locator.path for i in items] == ["a/c.txt", "a/z.bin", "b.txt"]
    b = by_path(items)["b.txt"]
    assert b.meta.size == 3 and b.meta.mtime == 1_400_000_000 and b.meta.kind == "file"
    assert b.os_path == str(tmp_path / "b.txt") and b.data is None and not b.errors
    assert content(by_path(items)["a/z.bin"]) == blob(1, 100)


def test_symlinks_are_recorded_not_followed(tmp_path: Path) -> None:
    write(tmp_path / "real.txt", b"real")
    os.symlink("real.txt", tmp_path / "good")
    os.symlink("/nonexistent/target", tmp_path / "dangling")
    os.symlink("loop_b", tmp_path / "loop_a")
    os.symlink("loop_a", tmp_path / "loop_b")
    (tmp_path / "d").mkdir()
    os.symlink(str(tmp_path / "d"), tmp_path / "dirlink")
    os.mkfifo(tmp_path / "fifo")
    items = by_path(collect(FolderSource(tmp_path)))
    assert set(items) == {"real.txt", "good", "dangling", "loop_a", "loop_b", "dirlink", "fifo"}
    for name in ("good", "dangling", "loop_a", "dirlink"):
        it = items[name]
        assert it.meta.kind == "symlink" and not it.has_content
    assert items["dangling"].meta.link_target == "/nonexistent/target" and not items["dangling"].errors
    assert items["good"].meta.link_target == "real.txt" and not items["good"].errors
    assert codes(items["loop_a"]) == {E.SYMLINK_LOOP}
    assert "itself" in items["loop_a"].errors[0].message
    assert items["fifo"].meta.kind == "other" and not items["fifo"].has_content


def test_unreadable_file_and_folder() -> None:
    root = world_traversable_dir()
    write(root / "secret.txt", b"x").chmod(0)
    write(root / "locked" / "in.txt", b"y")
    write(root / "ok.txt", b"z").chmod(0o644)
    (root / "locked").chmod(0)

    def walk() -> dict[str, tuple[set[str], bool, bytes | None]]:
        found = by_path(collect(FolderSource(root)))
        return {p: (codes(i), i.has_content, content(i) if p == "ok.txt" else None) for p, i in found.items()}

    try:
        items = run_unprivileged(walk)
    finally:
        (root / "locked").chmod(0o755)
        shutil.rmtree(root)
    assert items["secret.txt"][:2] == ({E.UNREADABLE}, False)
    assert items["locked"][0] == {E.UNREADABLE}
    assert items["ok.txt"] == (set(), True, b"z")


def test_evidence_untouched_and_deterministic(tmp_path: Path) -> None:
    ev = tmp_path / "ev"
    inner = zip_bytes([("i.txt", b"inner")])
    write(ev / "x" / "bundle.tar.gz", tar_bytes([("inner.zip", inner), ("p.bin", blob(2, 5000))]))
    write(ev / "plain.txt", b"plain")
    write(ev / "big.zip", zip_bytes([("big.bin", blob(3, 300_000))]))
    os.symlink("plain.txt", ev / "link")
    before = _snapshot(ev)
    spool = tmp_path / "spool"
    spool.mkdir()
    limits = Limits(in_memory_member_size=1000)
    first = collect(FolderSource(ev, temp_dir=str(spool)), limits)
    second = collect(FolderSource(ev, temp_dir=str(spool)), limits)
    assert _snapshot(ev) == before
    assert sorted(p.name for p in ev.rglob("*")) == sorted(
        ["x", "bundle.tar.gz", "plain.txt", "big.zip", "link"]
    )
    assert [i.locator.path for i in first] == [i.locator.path for i in second]
    assert [content(i) for i in first if i.has_content] == [content(i) for i in second if i.has_content]
    assert [i.locator.path for i in first] == [  # members first, then their container
        "big.zip!/big.bin",
        "big.zip",
        "link",
        "plain.txt",
        "x/bundle.tar.gz!/inner.zip!/i.txt",
        "x/bundle.tar.gz!/inner.zip",
        "x/bundle.tar.gz!/p.bin",
        "x/bundle.tar.gz",
    ]
    for it in first:  # spool files are the consumer's: all outside the evidence, in temp_dir
        if it.spool_path:
            assert Path(it.spool_path).parent == spool


def test_open_source_picks_the_source(tmp_path: Path) -> None:
    z = write(tmp_path / "case.zip", zip_bytes([("a/b.txt", b"bee")]))
    t = write(tmp_path / "notes.txt", b"just text")
    assert isinstance(open_source(tmp_path), FolderSource)
    src = open_source(z)
    assert isinstance(src, ArchiveFileSource) and src.kind == "archive"
    items = collect(src)
    assert [i.locator.path for i in items] == ["case.zip!/a/b.txt", "case.zip"]
    assert items[1].is_container and items[1].os_path is not None
    assert content(items[0]) == b"bee"
    plain = open_source(t)
    assert type(plain) is FileSource
    assert [(i.locator.path, content(i)) for i in collect(plain)] == [("notes.txt", b"just text")]
    with pytest.raises(FileNotFoundError):
        open_source(tmp_path / "missing")
