"""``cairn hashset match-file`` and the automatic match after ``cairn scan``, on SQLite and PostgreSQL.

The hash set is a CSV the test builds: digests of benign text and PDQs of benign pictures drawn with numpy and
Pillow. PDQ queries are the set's PDQs with known bits flipped, so every distance is known exactly.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select
from typer.testing import CliRunner

from cairn.cli.main import MATCH_FILE_COLUMNS, app
from cairn.matching.schemes import get_scheme
from cairn.signals.pdq import pdq_distance, pdq_from_rgb
from cairn.store import CaseStore
from cairn.store.schema import Base

runner = CliRunner()


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def hit_lines(*args: str) -> list[str]:
    """What ``cairn`` writes to standard output (the hits CSV), line by line."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def pictures() -> list[np.ndarray[Any, Any]]:
    """Three benign RGB pictures: smooth noise, a gradient, blocks."""
    rng = np.random.default_rng(5)
    noise = np.asarray(
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize((128, 128), Image.Resampling.BICUBIC)
    )
    y, x = np.mgrid[0:128, 0:128]
    gradient = np.stack([(x * 2).astype(np.uint8), (y * 2).astype(np.uint8), ((x + y) % 256).astype(np.uint8)], -1)
    blocks = np.kron(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), np.ones((16, 16, 1), dtype=np.uint8))
    return [noise, gradient, blocks]


def flip(pdq: str, bits: int) -> str:
    """``pdq`` with its first ``bits`` bits inverted (Hamming distance ``bits``)."""
    value = int(pdq, 16) ^ (((1 << bits) - 1) << (256 - bits))
    return f"{value:064x}"


def digests(data: bytes) -> tuple[str, str, str]:
    return hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest(), hashlib.sha256(data).hexdigest()


class Setup:
    """A case holding one imported set (``known``) and the queries CSV with its expected hits."""

    def __init__(self, tmp: Path, db_url: str | None) -> None:
        self.tmp = tmp
        self.case_args = ["--case", str(tmp / "case"), *(["--db", db_url] if db_url else [])]
        self.db_url = db_url
        pdqs = [pdq_from_rgb(p)[0] for p in pictures()]
        assert len(set(pdqs)) == 3 and min(pdq_distance(a, b) for a in pdqs for b in pdqs if a != b) > 70
        texts = [digests(f"benign text number {i}\n".encode()) for i in range(3)]
        lines = [
            f"{texts[0][0]},{texts[0][1]},{texts[0][2]},,1,text-series",
            f"{texts[1][0]},,,,2,",
            f",,,{pdqs[0]},1,noise-series",
            f",,,{pdqs[1]},4,",
            f",,{texts[2][2]},{pdqs[2]},,",
        ]
        known = tmp / "known.csv"
        known.write_text("md5,sha1,sha256,pdq,category,series\n" + "\n".join(lines) + "\n")
        run("hashset", "import", str(known), *self.case_args, "--scheme", "vic-us", "--no-progress")
        cam, age, comparison = (get_scheme("vic-us").label(v) for v in (1, 2, 4))
        unrelated = digests(b"nothing known about this\n")
        self.queries = tmp / "queries.csv"
        rows = [
            ("ref", "sha256", "md5", "pdq", "note"),  # line 1: header, with columns that are ignored
            ("a", texts[0][2], "", "", "exact sha256"),  # 2
            ("b", "", texts[1][0].upper(), "", "exact md5, upper case"),  # 3
            ("c", unrelated[2], unrelated[0], "", "no hit"),  # 4
            ("d", "", "", flip(pdqs[0], 5), "pdq at 5"),  # 5
            ("e", "", "", flip(pdqs[1], 31), "pdq at 31"),  # 6
            ("f", "", "", flip(pdqs[1], 32), "pdq at 32: no hit"),  # 7
            ("g", "not-a-hash", "1234", "zz", "malformed"),  # 8
            ("h", texts[2][2], "", pdqs[2], "exact sha256 and pdq at 0, uncategorised"),  # 9
        ]
        self.queries.write_text("\n".join(",".join(r) for r in rows) + "\n")
        self.expected = [
            ",".join(MATCH_FILE_COLUMNS),
            f"{texts[0][2]},2,known,sha256,0,vic-us,1,{cam},text-series",
            f"{texts[1][0]},3,known,md5,0,vic-us,2,{age},",
            f"{flip(pdqs[0], 5)},5,known,pdq,5,vic-us,1,{cam},noise-series",
            f"{flip(pdqs[1], 31)},6,known,pdq,31,vic-us,4,{comparison},",
            f"{texts[2][2]},9,known,sha256,0,,,,",
            f"{pdqs[2]},9,known,pdq,0,,,,",
        ]


@pytest.fixture
def setup(tmp_path: Path, db_url: str | None) -> Setup:
    return Setup(tmp_path, db_url)


def database_state(case_args: list[str], db_url: str | None) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The case's audit entries and every table's row count."""
    with CaseStore.open(Path(case_args[1]), db_url, read_only=True) as store:
        audit = store.audit_entries()
        with store._engine.connect() as conn:
            counts = {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                      for t in Base.metadata.sorted_tables}
    return audit, counts


def test_match_file_writes_exactly_the_hits(setup: Setup) -> None:
    out = setup.tmp / "hits.csv"
    before = database_state(setup.case_args, setup.db_url)
    sqlite_db = setup.tmp / "case" / "case.db"
    db_bytes = sqlite_db.read_bytes() if setup.db_url is None else b""
    case_files = sorted(p.name for p in (setup.tmp / "case").iterdir())

    message = run("hashset", "match-file", str(setup.queries), *setup.case_args, "--out", str(out), "--no-progress")
    assert out.read_text().splitlines() == setup.expected
    assert "6 hits" in message and "1 rows skipped" in message

    # a chunk of one query gives the same lines; standard output when there is no --out
    printed = hit_lines("hashset", "match-file", str(setup.queries), *setup.case_args, "--chunk", "1", "--no-progress")
    assert printed == setup.expected

    # a threshold of 0 and one named set: only the exact hits and the identical PDQ
    strict = hit_lines("hashset", "match-file", str(setup.queries), *setup.case_args, "--pdq-threshold", "0",
                       "--set", "known", "--no-progress")
    assert strict == [
        line for line in setup.expected if ",pdq," not in line or ",pdq,0," in line
    ]

    # read-only: the case database, its audit log and its folder are as they were
    assert database_state(setup.case_args, setup.db_url) == before
    assert sorted(p.name for p in (setup.tmp / "case").iterdir()) == case_files
    if setup.db_url is None:
        assert sqlite_db.read_bytes() == db_bytes


def test_match_file_refusals(setup: Setup) -> None:
    no_hash = setup.tmp / "nohash.csv"
    no_hash.write_text("name,size\nx,1\n")
    assert "no hash column" in run("hashset", "match-file", str(no_hash), *setup.case_args, code=2)
    assert "No hash set named nope" in run(
        "hashset", "match-file", str(setup.queries), *setup.case_args, "--set", "nope", code=2
    )
    assert "No queries file" in run("hashset", "match-file", str(setup.tmp / "absent.csv"), *setup.case_args, code=2)


def test_pdq_quality_column_skips_low_quality_queries(setup: Setup) -> None:
    lines = setup.queries.read_text().splitlines()
    pdq_line = lines[4].split(",")  # line 5: pdq at 5
    rich = setup.tmp / "quality.csv"
    rich.write_text(f"pdq,quality\n{pdq_line[3]},49\n{pdq_line[3]},50\n")
    out = run("hashset", "match-file", str(rich), *setup.case_args, "--no-progress")
    hits = [line for line in out.splitlines() if line.startswith(pdq_line[3])]
    assert [h.split(",")[1] for h in hits] == ["3"]
    assert "1 PDQs below quality 50 skipped" in out


def make_evidence(root: Path) -> None:
    root.mkdir()
    for i, picture in enumerate(pictures()):
        Image.fromarray(picture).save(root / f"picture-{i}.png")
    (root / "notes.txt").write_text("benign text number 0\n")


@pytest.mark.parametrize("auto", [True, False])
def test_scan_matches_by_itself_when_sets_are_loaded(tmp_path: Path, db_url: str | None, auto: bool) -> None:
    evidence = tmp_path / "evidence"
    make_evidence(evidence)
    case_args = ["--case", str(tmp_path / "case"), *(["--db", db_url] if db_url else [])]
    picture = np.asarray(Image.open(evidence / "picture-0.png").convert("RGB"))
    known = tmp_path / "known.csv"
    text_sha256 = digests(b"benign text number 0\n")[2]
    known.write_text(f"sha256,pdq\n{text_sha256},\n,{flip(pdq_from_rgb(picture)[0], 3)}\n")
    run("hashset", "import", str(known), *case_args, "--known-bad", "--no-progress")

    out = run("scan", str(evidence), *case_args, "--workers", "1", "--no-progress",
              *([] if auto else ["--no-match"]))
    rows = {Path(r["path"]).name: r["matches"] for r in json.loads(run("files", *case_args, "--format", "json"))}
    with CaseStore.open(Path(case_args[1]), db_url, read_only=True) as store:
        match_runs = store.match_runs()
    if not auto:
        assert match_runs == [] and "files matched" not in out
        assert all(hits == [] for hits in rows.values())
        return
    [match_run] = match_runs
    assert match_run["counts"]["files_matched"] == 2 and match_run["settings"]["pdq_threshold"] == 31
    assert "2 files matched" in " ".join(out.replace("│", " ").split())
    assert [(h["kind"], h["distance"]) for h in rows["picture-0.png"]] == [("pdq", 3)]
    assert [h["kind"] for h in rows["notes.txt"]] == ["sha256"]
    assert rows["picture-1.png"] == [] and rows["picture-2.png"] == []


def test_scan_without_sets_does_not_match(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    make_evidence(evidence)
    out = run("scan", str(evidence), "--case", str(tmp_path / "case"), "--workers", "1", "--no-progress")
    assert "files matched" not in out
