"""``cairn groups`` on SQLite and PostgreSQL: near-duplicate groups ("stacks") of a benign evidence folder the test
draws (smooth noise, gradients, blocks; an exact, a resized and a recompressed copy of one picture, a recompressed
copy of another)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cairn.cli.main import app
from cairn.matching.groups import GroupFile, GroupSettings, group_files
from cairn.signals.pdq import pdq_distance
from tests.matching.evidence import make_evidence

runner = CliRunner()

FIRST = {"noise.png", "noise-copy.png", "noise-small.png", "noise-q85.jpg"}
SECOND = {"other-noise.png", "other-noise-q90.jpg"}
UNRELATED = {"gradient-x.png", "gradient-xy.png", "blocks.png", "notes.txt"}


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output



@pytest.fixture
def scanned(tmp_path: Path, db_url: str | None) -> tuple[list[str], dict[str, dict[str, Any]]]:
    evidence = tmp_path / "evidence"
    make_evidence(evidence, exact_copies=True)
    case_args = ["--case", str(tmp_path / "case"), *(["--db", db_url] if db_url else [])]
    run("scan", str(evidence), *case_args, "--workers", "1")
    rows = json.loads(run("files", *case_args, "--format", "json"))
    assert all(r["group"] is None for r in rows)  # no group run yet
    return case_args, {Path(r["path"]).name: r for r in rows}


def stacks(case_args: list[str], *extra: str) -> tuple[dict[str, Any], set[frozenset[str]]]:
    out = json.loads(run("groups", *case_args, "--format", "json", "--no-progress", *extra))
    return out, {frozenset(Path(m["path"]).name for m in g["members"]) for g in out["groups"]}


def listed_groups(case_args: list[str]) -> dict[str, int | None]:
    rows = json.loads(run("files", *case_args, "--format", "json"))
    return {Path(r["path"]).name: r["group"] for r in rows}


def test_groups_exact_and_near_copies(
    scanned: tuple[list[str], dict[str, dict[str, Any]]], db_url: str | None
) -> None:
    case_args, files = scanned
    out, found = stacks(case_args)
    assert found == {frozenset(FIRST), frozenset(SECOND)}
    assert out["settings"] == {"pdq_threshold": 31, "min_pdq_quality": 50}
    assert out["counts"]["groups"] == 2 and out["counts"]["grouped_files"] == 6
    assert out["counts"]["exact_duplicate_joins"] == 1
    by_name = {Path(m["path"]).name: (g["group"], m) for g in out["groups"] for m in g["members"]}
    # numbered by the smallest path in each group, in path order: "noise-copy.png" < "other-noise-q90.jpg"
    assert {n: by_name[n][0] for n in FIRST} == dict.fromkeys(FIRST, 1)
    assert {n: by_name[n][0] for n in SECOND} == dict.fromkeys(SECOND, 2)
    for g in out["groups"]:
        [rep] = [m for m in g["members"] if m["representative"]]
        assert g["representative"] == rep["path"] and rep["distance"] == 0
        best = max((m["pdq_quality"], m["width"] * m["height"]) for m in g["members"])
        assert (rep["pdq_quality"], rep["width"] * rep["height"]) == best
        rep_pdq = files[Path(rep["path"]).name]["pdq"]
        for m in g["members"]:
            assert m["distance"] == pdq_distance(files[Path(m["path"]).name]["pdq"], rep_pdq) <= 31
    assert by_name["noise-copy.png"][1]["distance"] == by_name["noise.png"][1]["distance"]

    listed = listed_groups(case_args)
    assert {n: listed[n] for n in FIRST | SECOND} == {n: by_name[n][0] for n in FIRST | SECOND}
    assert all(listed[n] is None for n in UNRELATED)
    csv_head = run("files", *case_args, "--format", "csv").splitlines()[0]
    assert "group" not in csv_head.split(",")

    # deterministic: the same case gives the same groups, numbers and representatives
    again, _ = stacks(case_args)
    assert again["groups"] == out["groups"] and again["group_run_id"] != out["group_run_id"]
    assert "audit chain intact" in run("audit", "verify", *case_args)
    shown = run("audit", "show", *case_args)
    assert shown.count("groups.finished") == 2

    from cairn.store import CaseStore

    with CaseStore.open(Path(case_args[1]), db_url) as store:
        finished = [e for e in store.audit_entries() if e["action"] == "groups.finished"]
        assert [e["details"]["group_run_id"] for e in finished] == [out["group_run_id"], again["group_run_id"]]
        assert finished[-1]["details"]["settings"] == out["settings"]
        assert finished[-1]["details"]["counts"] == out["counts"]
        assert [r["counts"] for r in store.group_runs()] == [out["counts"], out["counts"]]


def test_threshold_zero_splits_near_copies(scanned: tuple[list[str], dict[str, dict[str, Any]]]) -> None:
    case_args, files = scanned
    out, found = stacks(case_args, "--pdq-threshold", "0")
    noise_pdq = files["noise.png"]["pdq"]
    same = {n for n, r in files.items() if r["pdq"] == noise_pdq}
    assert "noise-small.png" not in same
    assert frozenset(same) in found  # exact copy plus any copy whose PDQ did not move at all
    other_same = {n for n, r in files.items() if r["pdq"] == files["other-noise.png"]["pdq"]}
    assert found == {frozenset(same)} | ({frozenset(other_same)} if len(other_same) > 1 else set())
    assert out["settings"]["pdq_threshold"] == 0
    listed = listed_groups(case_args)  # the listing shows the latest run
    assert listed["noise-small.png"] is None and listed["noise-copy.png"] == 1
    table = run("groups", *case_args, "--no-progress")
    assert "group run #" in table and "noise-copy.png" in table
    assert "audit chain intact" in run("audit", "verify", *case_args)


def test_grouping_logic_is_order_free_and_picks_representatives() -> None:
    a = "f" * 64
    b = "f" * 63 + "0"  # 4 bits from a
    far = "0" * 64
    files = [
        GroupFile(5, "z.jpg", "s1", a, 90, 100),
        GroupFile(3, "b.jpg", "s2", b, 90, 400),  # same quality, more pixels: the representative
        GroupFile(9, "a.txt", "s3", None, None, None),
        GroupFile(7, "c.txt", "s3", None, None, None),  # exact copy of a.txt
        GroupFile(8, "d.jpg", "s4", far, 90, 400),
        GroupFile(2, "e.jpg", "s5", a, 10, 400),  # low quality: not compared
    ]
    first = group_files(files, GroupSettings(pdq_threshold=4))
    assert group_files(list(reversed(files)), GroupSettings(pdq_threshold=4)) == first
    assert [[m.path for m in g.members] for g in first.groups] == [["a.txt", "c.txt"], ["b.jpg", "z.jpg"]]
    assert first.groups[1].representative.path == "b.jpg"
    assert [m.distance for m in first.groups[1].members] == [0, 4]
    assert [m.distance for m in first.groups[0].members] == [0, 0]
    assert first.counts["pdq_skipped"] == 3
    assert group_files(files, GroupSettings(pdq_threshold=3)).counts["groups"] == 1
    with pytest.raises(ValueError):
        group_files(files, GroupSettings(pdq_threshold=257))
