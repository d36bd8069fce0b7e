"""``cairn match`` on SQLite and PostgreSQL: a benign evidence folder the test draws (noise and gradient
pictures, a resized and a recompressed copy of one), hash sets built from some of its files' own hashes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cairn.cli.main import app
from cairn.matching import match as _match_mod
from cairn.signals.pdq import pdq_distance
from tests.matching.evidence import make_evidence

runner = CliRunner()


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output



@pytest.fixture
def scanned(tmp_path: Path, db_url: str | None) -> tuple[list[str], dict[str, dict[str, Any]], Path]:
    evidence = tmp_path / "evidence"
    make_evidence(evidence)
    case_args = ["--case", str(tmp_path / "case"), *(["--db", db_url] if db_url else [])]
    run("scan", str(evidence), *case_args, "--workers", "1")
    rows = json.loads(run("files", *case_args, "--format", "json"))
    assert all(r["matches"] == [] for r in rows)  # no match run yet
    return case_args, {Path(r["path"]).name: r for r in rows}, tmp_path


def write_csv(path: Path, header: str, lines: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def listing(case_args: list[str]) -> dict[str, list[dict[str, Any]]]:
    rows = json.loads(run("files", *case_args, "--format", "json"))
    return {Path(r["path"]).name: r["matches"] for r in rows}


def test_exact_and_pdq_matches_with_distances(scanned: tuple[list[str], dict[str, dict[str, Any]], Path]) -> None:
    case_args, files, tmp = scanned
    noise, grad = files["noise.png"], files["gradient-x.png"]
    assert noise["pdq_quality"] >= 50
    known = write_csv(
        tmp / "known.csv", "sha256,pdq,category,series",
        [f"{noise['sha256']},{noise['pdq']},1,noise-series", f"{grad['sha256']},,4,"],
    )
    run("hashset", "import", str(known), *case_args, "--scheme", "vic-us", "--no-progress")
    out = run("match", *case_args, "--no-progress")
    assert "match run #" in out

    found = listing(case_args)
    exact = {name for name, hits in found.items() for h in hits if h["kind"] == "sha256"}
    assert exact == {"noise.png", "gradient-x.png"}
    noise_hits = sorted((h["kind"], h["distance"]) for h in found["noise.png"])
    assert noise_hits == [("pdq", 0), ("sha256", 0)]
    for near in ("noise-small.png", "noise-q85.jpg"):
        [hit] = found[near]
        assert hit["kind"] == "pdq" and hit["set"] == "known" and hit["series"] == "noise-series"
        assert hit["distance"] == pdq_distance(files[near]["pdq"], noise["pdq"]) <= 31
        assert hit["category"] == {"scheme": "vic-us", "value": 1, "label": "Child Abuse Material"}
        assert hit["ignorable"] is False
    assert found["gradient-x.png"][0]["category"]["value"] == 4
    for unrelated in ("gradient-xy.png", "blocks.png", "other-noise.png", "notes.txt"):
        assert found[unrelated] == [], unrelated
    # every file whose PDQ is within 31 of the set's PDQ matched, and none farther
    within = {n for n, r in files.items() if r["pdq"] and r["pdq_quality"] >= 50
              and pdq_distance(r["pdq"], noise["pdq"]) <= 31}
    assert within == {n for n, hits in found.items() if any(h["kind"] == "pdq" for h in hits)}

    # a threshold of 0 keeps only the identical PDQ
    run("match", *case_args, "--no-progress", "--pdq-threshold", "0")
    found = listing(case_args)
    assert {n for n, hits in found.items() if any(h["kind"] == "pdq" for h in hits)} == {
        n for n, r in files.items() if r["pdq"] == noise["pdq"]
    }
    assert "audit chain intact" in run("audit", "verify", *case_args)
    assert "match.finished" in run("audit", "show", *case_args)
    csv_text = run("files", *case_args, "--format", "csv")
    assert csv_text.splitlines()[0].endswith("evidence,notes")


def test_conflicting_schemes_are_both_kept_and_runs_record_sets(
    scanned: tuple[list[str], dict[str, dict[str, Any]], Path], db_url: str | None
) -> None:
    case_args, files, tmp = scanned
    noise = files["noise.png"]
    us = write_csv(tmp / "us.csv", "md5,category", [f"{noise['md5']},2"])
    dhs = write_csv(tmp / "dhs.csv", "sha1,category", [f"{noise['sha1']},0"])
    harmless = write_csv(tmp / "harmless.txt", "", [files["blocks.png"]["md5"]])
    harmless.write_text(files["blocks.png"]["md5"] + "\n")
    run("hashset", "import", str(us), *case_args, "--scheme", "vic-us", "--no-progress")
    run("hashset", "import", str(dhs), *case_args, "--scheme", "dhs", "--no-progress")
    run("hashset", "import", str(harmless), *case_args, "--known-harmless", "--no-progress")
    run("match", *case_args, "--no-progress")

    found = listing(case_args)
    cats = sorted((h["set"], h["kind"], h["category"]["scheme"], h["category"]["value"]) for h in found["noise.png"])
    assert cats == [("dhs", "sha1", "dhs", 0), ("us", "md5", "vic-us", 2)]
    [blocks] = found["blocks.png"]
    assert blocks["ignorable"] is True and blocks["category"] is None
    assert found["noise-small.png"] == []  # no PDQ in these sets

    from cairn.store import CaseStore

    case_dir = Path(case_args[1])
    with CaseStore.open(case_dir, db_url) as store:
        sets = {s["name"]: s["source_sha256"] for s in store.hash_sets()}
        [match_run] = store.match_runs()
        recorded = {s["name"]: s["source_sha256"] for s in match_run["settings"]["sets"]}
        assert recorded == sets and len(sets) == 3
        assert match_run["settings"]["pdq_threshold"] == 31 and match_run["settings"]["min_pdq_quality"] == 50
        assert match_run["counts"]["files_matched"] == 2 and match_run["counts"]["ignorable_hits"] == 1
        # only one set: a new run replaces what the listing shows; the old run stays on record
        store.run_match(actor="tester", set_names=["dhs"])
        assert len(store.match_runs()) == 2
        audit = [e for e in store.audit_entries() if e["action"] == "match.finished"]
        assert [len(e["details"]["settings"]["sets"]) for e in audit] == [3, 1]
        assert store.audit_verify() == []
    found = listing(case_args)
    assert [h["set"] for h in found["noise.png"]] == ["dhs"] and found["blocks.png"] == []
    out = run("match", *case_args, "--set", "nope", "--no-progress", code=2)
    assert "No hash set named nope" in out


def test_match_without_sets_says_what_to_do(
    scanned: tuple[list[str], dict[str, dict[str, Any]], Path],
) -> None:
    case_args, _files, _tmp = scanned
    out = run("match", *case_args, code=2)
    assert "cairn hashset import" in out


def test_entry_index_built_in_blocks_equals_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """The index is packed block by block (bounded memory); block edges change nothing, bad hashes are skipped."""
    import hashlib

    pairs = [(i, hashlib.sha256(str(i).encode()).hexdigest()) for i in range(50)] + [(99, "not a pdq")]
    whole = _match_mod.build_entry_index(pairs)
    monkeypatch.setattr(_match_mod, "BUILD_BLOCK", 7)
    blocked = _match_mod.build_entry_index(pairs)
    assert whole is not None and blocked is not None and len(whole) == len(blocked) == 50
    assert (whole.hashes == blocked.hashes).all() and (whole.ids == blocked.ids).all()
    assert _match_mod.build_entry_index([(1, "zz")]) is None
