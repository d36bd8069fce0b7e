"""Meta's own dihedral test set, matched by ``cairn match --dihedral`` (optional: needs the files).

``pdq/data/reg-test-input/dih/`` of github.com/facebook/ThreatExchange holds a photo of a bridge and its seven
rotations and flips (``bridge-1-original.jpg`` ... ``bridge-8-flip-minus-1.jpg``). Point ``CAIRN_META_DIH`` at a
folder holding them (never committed here); without it the test skips. It checks that cairn's dihedral hashes
are ``pdqhash.compute_dihedral``'s bit for bit, and that a set holding only the original's PDQ finds all eight
files with ``--dihedral``, each naming the transform in its file name, and only the original without it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image
from typer.testing import CliRunner

from cairn.cli.main import app
from cairn.signals.pdq import pdq_dihedral_from_rgb

#: Meta's file names, with the transform a hit on each must name.
FILES = {
    "bridge-1-original.jpg": None,
    "bridge-2-rotate-90.jpg": "rot90",
    "bridge-3-rotate-180.jpg": "rot180",
    "bridge-4-rotate-270.jpg": "rot270",
    "bridge-5-flipx.jpg": "flipx",
    "bridge-6-flipy.jpg": "flipy",
    "bridge-7-flip-plus-1.jpg": "flipplus",
    "bridge-8-flip-minus-1.jpg": "flipminus",
}

runner = CliRunner()


@pytest.fixture(scope="module")
def folder() -> Path:
    where = os.environ.get("CAIRN_META_DIH")
    if not where:
        pytest.skip(
            "set CAIRN_META_DIH to a folder holding ThreatExchange's pdq/data/reg-test-input/dih/bridge-*.jpg "
            "(git clone https://github.com/facebook/ThreatExchange; never commit the files)"
        )
    path = Path(where)
    missing = [name for name in FILES if not (path / name).is_file()]
    if missing:
        pytest.fail(f"CAIRN_META_DIH={where} lacks {', '.join(missing)}")
    return path


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_dihedral_hashes_are_pdqhash_s(folder: Path) -> None:
    for name in FILES:
        with Image.open(folder / name) as img:
            rgb = np.asarray(img.convert("RGB"))
        vectors, quality = pdqhash.compute_dihedral(rgb)
        expected = tuple(f"{int(''.join(str(int(b)) for b in v), 2):064x}" for v in vectors)
        assert pdq_dihedral_from_rgb(rgb) == (expected, quality), name


def test_the_original_finds_all_eight(folder: Path, tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for name in FILES:
        (evidence / name).write_bytes((folder / name).read_bytes())
    case = ["--case", str(tmp_path / "case")]
    run("scan", str(evidence), *case, "--workers", "1", "--no-match")
    rows = {Path(r["path"]).name: r for r in json.loads(run("files", *case, "--format", "json"))}
    known = tmp_path / "bridge.csv"
    known.write_text(f"pdq,category\n{rows['bridge-1-original.jpg']['pdq']},1\n", encoding="utf-8")
    run("hashset", "import", str(known), *case, "--scheme", "vic-us", "--no-progress")

    run("match", *case, "--no-progress")
    rows = {Path(r["path"]).name: r for r in json.loads(run("files", *case, "--format", "json"))}
    assert {n for n, r in rows.items() if r["matches"]} == {"bridge-1-original.jpg"}

    run("match", *case, "--dihedral", "--no-progress")
    rows = {Path(r["path"]).name: r for r in json.loads(run("files", *case, "--format", "json"))}
    for name, transform in FILES.items():
        [hit] = rows[name]["matches"]
        assert hit["transform"] == transform and hit["distance"] <= 31, (name, hit)
