"""Hash sets written by the real python-threatexchange CLI (Meta's reference tooling), read by cairn.

``threatexchange fetch`` loads the library's own sample collaboration (benign sample signals that ship with it)
and ``threatexchange dataset -P [--csv]`` prints it in both of its shapes; ``threatexchange hash`` hashes
pictures cairn makes here. cairn must import every hash signal of those files and match a scan against them.
The CLI runs with its own throwaway HOME (it keeps its state in ~/.threatexchange)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from cairn.cli.main import app
from cairn.matching.formats import ReadReport, read_hash_set

pytest.importorskip("threatexchange", reason="install python-threatexchange (pip install threatexchange)")

runner = CliRunner()
_MAIN = "import sys; from threatexchange.cli.main import main; sys.exit(main())"


def te(home: Path, *args: str) -> str:
    """Run the threatexchange CLI; its standard output."""
    done = subprocess.run(
        [sys.executable, "-c", _MAIN, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(home)},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def cairn(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def pictures(folder: Path) -> list[Path]:
    """Three benign pictures: a Mandelbrot render, shapes on a gradient, and the shapes mirrored."""
    folder.mkdir()
    fractal = Image.effect_mandelbrot((320, 240), (-2.2, -1.2, 1.0, 1.2), 80).convert("RGB")
    shapes = Image.linear_gradient("L").resize((300, 300)).convert("RGB")
    draw = ImageDraw.Draw(shapes)
    draw.ellipse((40, 40, 160, 160), fill=(200, 30, 30))
    draw.rectangle((170, 60, 280, 250), fill=(20, 90, 200))
    draw.polygon([(30, 280), (150, 190), (140, 290)], fill=(250, 220, 40))
    out = [folder / "fractal.png", folder / "shapes.jpg", folder / "mirrored.png"]
    fractal.save(out[0])
    shapes.save(out[1], quality=92)
    shapes.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(out[2])
    return out


def test_sample_collaboration_in_both_shapes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    te(home, "fetch")
    (tmp_path / "sample.csv").write_text(te(home, "dataset", "-P", "--csv"))
    (tmp_path / "sample.txt").write_text(te(home, "dataset", "-P"))
    read = {}
    for name in ("sample.csv", "sample.txt"):
        report = ReadReport()
        records = list(read_hash_set(tmp_path / name, "auto", None, report))
        assert report.details["format"] == "te", name
        read[name] = sorted((sorted(r.hashes.items()), sorted(r.extra.items())) for r in records)
        kinds = Counter(k for r in records for k in r.hashes)
        # Every hash signal of the sample is read; text, URL and query signals are counted skips.
        lines = (tmp_path / "sample.csv").read_text().splitlines()[1:]
        hash_rows = [ln for ln in lines if ln.split(",")[0] in {"pdq", "video_md5", "video_sha256"}]
        assert sum(kinds.values()) == len(hash_rows) > 0 and kinds["pdq"] > 0
        assert report.skipped == len(lines) - len(hash_rows)
        assert all(dict(extra).get("te_category") for _h, extra in read[name])
    assert read["sample.csv"] == read["sample.txt"]  # the two shapes say the same


def test_scan_matches_what_threatexchange_hashed(tmp_path: Path, db_url: str | None) -> None:
    home = tmp_path / "home"
    home.mkdir()
    files = pictures(tmp_path / "evidence")
    lines = te(home, "hash", "photo", *map(str, files)) + te(
        home, "hash", "--signal-type", "video_md5", "video", str(files[1])
    )
    assert lines.count("pdq ") == 3 and lines.count("video_md5 ") == 1
    hashes = tmp_path / "partner.te"
    hashes.write_text(lines)
    case = ["--case", str(tmp_path / "case"), *(["--db", db_url] if db_url else [])]
    out = cairn("hashset", "import", str(hashes), *case, "--name", "partner", "--no-progress")
    assert "4 records" in out and "format te" in out
    cairn("scan", str(tmp_path / "evidence"), *case, "--no-progress")  # matches by itself: a set is loaded
    listed = json.loads(cairn("files", *case, "--format", "json"))
    by_name = {Path(f["path"]).name: f for f in listed if Path(f["path"]).name in {p.name for p in files}}
    assert set(by_name) == {p.name for p in files}
    for name, row in by_name.items():
        pdq_hits = [m for m in row["matches"] if m["kind"] == "pdq" and m["set"] == "partner"]
        # cairn's PDQ is Meta's, bit for bit: each picture finds the line threatexchange wrote for it at 0.
        assert 0 in {m["distance"] for m in pdq_hits}, (name, row["matches"])
    md5_hits = [m for m in by_name["shapes.jpg"]["matches"] if m["kind"] == "md5"]
    assert [m["distance"] for m in md5_hits] == [0]
