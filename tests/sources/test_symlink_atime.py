"""Symbolic links are checked for loops with lstat/readlink only: no target is touched (issue 10, item 24)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cairn import errors as E
from cairn.pipeline.scan import scan
from cairn.settings import ScanSettings
from cairn.sources.folder import MAX_LINK_HOPS, FolderSource, link_loop
from cairn.store import CaseStore
from tests.sources import by_path, codes, collect, write

PAST = 1_000_000_000  # 2001: older than any relatime window, so any access would move it


def _atimes(paths: list[Path]) -> dict[str, int]:
    return {str(p): p.lstat().st_atime_ns for p in paths}


def test_a_scan_touches_no_link_target_and_nothing_outside_the_evidence(tmp_path: Path) -> None:
    if os.statvfs(tmp_path).f_flag & getattr(os, "ST_NOATIME", 1024):
        pytest.skip("the temp file system is mounted noatime: atimes never change, nothing to check")
    ev, outside = tmp_path / "evidence", tmp_path / "outside"
    write(ev / "target.txt", b"target")
    write(ev / "d" / "f.txt", b"in a folder")
    write(outside / "t.txt", b"not evidence")
    os.symlink("t.txt", outside / "l3")
    os.symlink("t.txt", outside / "l4")
    os.symlink("b", ev / "a")
    os.symlink("target.txt", ev / "b")
    os.symlink("loop2", ev / "loop1")
    os.symlink("loop1", ev / "loop2")
    os.symlink("self", ev / "self")
    os.symlink("d", ev / "dirlink")
    os.symlink("../outside/l3", ev / "out")
    os.symlink(str(outside / "l4"), ev / "abs")
    untouched = [ev / "target.txt", ev / "d", ev / "d" / "f.txt", outside, outside / "t.txt", outside / "l3",
                 outside / "l4"]
    for p in [*untouched, *(ev / n for n in ("a", "b", "loop1", "loop2", "self", "dirlink", "out", "abs"))]:
        os.utime(p, ns=(PAST * 10**9, PAST * 10**9), follow_symlinks=False)
    before = _atimes(untouched)

    with CaseStore.open(tmp_path / "case") as store:
        scan(ev, store, ScanSettings(workers=1), show_progress=False)
        rows = {r["path"]: r for r in store.iter_file_rows()}

    assert _atimes(untouched) == before  # targets, their folder and everything outside the evidence
    assert {p for p, r in rows.items() if r["error"] and "symlink_loop" in r["error"]} == {"loop1", "loop2", "self"}
    assert not rows["out"]["error"] and not rows["abs"]["error"] and not rows["a"]["error"]


def test_loop_resolution_is_bounded_and_stays_in_the_evidence(tmp_path: Path) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    for i in range(MAX_LINK_HOPS + 5):  # a chain longer than the kernel follows
        os.symlink(f"c{i + 1}", ev / f"c{i}")
    write(ev / f"c{MAX_LINK_HOPS + 5}", b"end")
    os.symlink(".", ev / "here")
    os.symlink("here/here/here/x", ev / "x")  # comes back to itself through a harmless link
    os.symlink("../ev/../ev/y", ev / "y")  # climbs out of the evidence: unknown, not called a loop
    (ev / "sub").mkdir()
    os.symlink("../sub/../sub/../z", ev / "sub" / "z")
    assert link_loop(str(ev), "c0") == f"is more than {MAX_LINK_HOPS} links deep"
    assert link_loop(str(ev), "c10") is None
    assert link_loop(str(ev), "x") == "resolves back into itself"
    assert link_loop(str(ev), "here") is None and link_loop(str(ev), "y") is None
    assert link_loop(str(ev), "sub/z") is None  # resolves to ev/z, which does not exist
    items = by_path(collect(FolderSource(ev)))
    assert codes(items["c0"]) == {E.SYMLINK_LOOP} and codes(items["x"]) == {E.SYMLINK_LOOP}
    assert not items["c10"].errors
