"""A case on read-only media (a write-blocked disk, a DVD) can be listed and verified (issue 10, item 20).

The case folder and its files are made read-only and the read commands run as an unprivileged user
(``nobody``, since tests may run as root and root writes anywhere). They must succeed, see every committed row
(also those still in a ``-wal`` of a case copied mid-scan), and write nothing. The child process reports back
as JSON through a pipe.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cairn.cli.main import app
from cairn.store import CaseStore

from .helpers import make_result
from .test_case_identity import folder_state, scan_small

runner = CliRunner()
NOBODY = 65534


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder an unprivileged user can enter (pytest's own tmp folders are root-only)."""
    path = Path(tempfile.mkdtemp(prefix="cairn-ro-media-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for dirpath, dirnames, _files in os.walk(path):
            for name in dirnames:
                Path(dirpath, name).chmod(0o755)
        shutil.rmtree(path)


def as_nobody(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``fn()`` run without root's powers (a forked child as ``nobody``); its JSON result comes back."""
    if os.geteuid() != 0:
        return fn()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop root, run, report, exit without running the parent's cleanup
        os.close(read_end)
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            payload: dict[str, Any] = {"ok": fn()}
        except BaseException as exc:  # everything goes back to the parent
            payload = {"error": f"{type(exc).__name__}: {exc}"}
        with os.fdopen(write_end, "w", encoding="utf-8") as out:
            json.dump(payload, out)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, encoding="utf-8") as inp:
        data = inp.read()
    os.waitpid(pid, 0)
    result = json.loads(data)
    assert "error" not in result, result["error"]
    return dict(result["ok"])


def make_read_only(folder: Path) -> None:
    for entry in folder.iterdir():
        entry.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    folder.chmod(0o555)


def read_commands(case: Path) -> Callable[[], dict[str, Any]]:
    def run() -> dict[str, Any]:
        out: dict[str, Any] = {"writable": os.access(case, os.W_OK)}
        for name, args in (
            ("files", ["files", "--case", str(case), "--format", "json"]),
            ("verify", ["audit", "verify", "--case", str(case)]),
            ("runs", ["runs", "--case", str(case)]),
        ):
            result = runner.invoke(app, args)
            out[name] = [result.exit_code, result.stdout, result.output]
        return out

    return run


def test_a_write_blocked_case_lists_and_verifies_and_nothing_is_written(shared_tmp: Path, db_url: str | None) -> None:
    case = shared_tmp / "case"
    scan_small(shared_tmp, case, db_url)
    expected = read_commands(case)()  # as this user: also imports every module the child needs
    assert expected["files"][0] == 0 and expected["verify"][0] == 0
    make_read_only(case)
    state = folder_state(case)
    seen = as_nobody(read_commands(case))
    assert seen["writable"] is False
    for name in ("files", "verify", "runs"):
        assert seen[name][0] == 0, seen[name][2]
        assert seen[name][1] == expected[name][1]
    assert "audit chain intact: 4 entries" in seen["verify"][1]
    assert len(json.loads(seen["files"][1])) == 2
    assert folder_state(case) == state
    assert not any(name.endswith(("-wal", "-shm", "-journal")) for name in os.listdir(case))


@pytest.mark.parametrize("with_shm", [True, False], ids=["wal-and-shm", "wal-only"])
def test_a_case_copied_mid_scan_onto_read_only_media_shows_its_last_commits(
    shared_tmp: Path, with_shm: bool
) -> None:
    """SQLite only: a ``-wal`` holding committed rows that ``case.db`` alone does not have yet."""
    live, copy = shared_tmp / "live", shared_tmp / "exhibit"
    with CaseStore.open(live) as store:
        ev = store.register_evidence("/evidence/disk1", "directory", "tester", {})
        run = store.start_run(ev, "test", {}, "tester")
        store.write_results(run, ev, [make_result(f"dir/file-{i:03d}.txt") for i in range(40)])
        store.finish_run(run, "completed", {"files": 40}, "tester")
        assert Path(f"{live}/case.db-wal").stat().st_size > 0
        copy.mkdir()
        for entry in live.iterdir():  # what a copy made while the scan still held the database looks like
            if with_shm or not entry.name.endswith("-shm"):
                shutil.copy2(entry, copy / entry.name)
    with sqlite3.connect(f"file:{copy / 'case.db'}?mode=ro&immutable=1", uri=True) as con:
        tables = con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'files'").fetchone()[0]
        assert tables == 0 or con.execute("SELECT count(*) FROM files").fetchone() == (0,)  # all in the -wal
    expected = read_commands(live)()
    assert len(json.loads(expected["files"][1])) == 40
    make_read_only(copy)
    state = folder_state(copy)
    seen = as_nobody(read_commands(copy))
    assert seen["files"][0] == 0, seen["files"][2]
    assert seen["files"][1] == expected["files"][1]
    assert seen["verify"][0] == 0 and "audit chain intact: 4 entries" in seen["verify"][1], seen["verify"][2]
    assert seen["runs"][1] == expected["runs"][1]
    assert folder_state(copy) == state
    assert not _private_copies_of(NOBODY)  # the private copy is gone


def _private_copies_of(uid: int) -> list[Path]:
    """``cairn-read-*`` entries in the temp folder owned by ``uid`` (other processes' files may come and go)."""
    found = []
    for p in Path(tempfile.gettempdir()).iterdir():
        if not p.name.startswith("cairn-read-"):
            continue
        try:
            if p.lstat().st_uid == uid:
                found.append(p)
        except FileNotFoundError:
            continue
    return found


def test_read_only_store_on_a_read_only_folder_reports_how_it_reads(shared_tmp: Path) -> None:
    case = shared_tmp / "case"
    scan_small(shared_tmp, case, None)
    make_read_only(case)

    def how() -> dict[str, Any]:
        with CaseStore.open(case, read_only=True) as store:
            return {"how": store._reader.how if store._reader else None, "files": store.counts()["files"]}

    seen = as_nobody(how)
    assert seen["files"] == 2
    if os.geteuid() == 0 or not os.access(case, os.W_OK):
        assert seen["how"].startswith("immutable")
