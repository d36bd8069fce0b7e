"""CSV formula injection: names a suspect chose never reach a spreadsheet as formulas (issue 10, item 23).

Evidence is a folder holding a zip whose members have formula names, and loose files with the same names
(whose logical paths then begin with the formula). It is scanned end to end and listed as CSV and JSON.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cairn.cli.main import app
from cairn.report.export import FORMULA_STARTS, neutralise

runner = CliRunner()

FORMULAS = ['=HYPERLINK("http://x","y")', "+1+1", "@SUM(1,2)", "-2+3", "=1+2"]
LOOSE = ["+1+1", "@SUM(1,2)", "-2+3", "=1+2", "\tTAB", "\rCR", "-5"]


def _cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_formula_cells_are_neutralised_in_csv_and_untouched_in_json(tmp_path: Path) -> None:
    evidence, case = tmp_path / "ev", tmp_path / "case"
    evidence.mkdir()
    with zipfile.ZipFile(evidence / "names.zip", "w") as zf:
        for name in FORMULAS:
            zf.writestr(name, "benign text")
    for name in LOOSE:
        (evidence / name).write_text("benign text")
    _cli("scan", str(evidence), "--case", str(case), "--workers", "1", "--no-progress")

    as_json = json.loads(_cli("files", "--case", str(case), "--format", "json"))
    json_paths = [r["path"] for r in as_json]
    for name in ("+1+1", "@SUM(1,2)", "-2+3", "=1+2", "-5"):
        assert name in json_paths  # JSON holds the names exactly as listed
    assert any(p.startswith("names.zip!/=HYPERLINK(") for p in json_paths)

    text = _cli("files", "--case", str(case), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(as_json)
    for row, original in zip(rows, as_json, strict=True):
        for column, cell in row.items():
            assert not (cell.startswith(FORMULA_STARTS) and cell != "-5"), (column, cell)
            shown = "" if original[column] is None else str(original[column])
            assert cell in (shown, "'" + shown), (column, cell, shown)
        assert row["path"] == neutralise(original["path"])
    csv_paths = [r["path"] for r in rows]
    for name in ("+1+1", "@SUM(1,2)", "-2+3", "=1+2"):
        assert "'" + name in csv_paths
    assert "-5" in csv_paths  # a plain number runs nothing; left as it is
    assert "names.zip!/+1+1" in csv_paths  # begins with the zip's name: nothing to neutralise
    sizes = {r["path"]: r["size"] for r in rows}
    assert sizes["'+1+1"] == "11"  # numbers stay numbers


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(1,2)", "'@SUM(1,2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-1e+20", "-1e+20"),
        ("-5", "-5"),
        ("+30828-09-14T02:48:05+00:00", "'+30828-09-14T02:48:05+00:00"),
        ("a=1", "a=1"),
        ("", ""),
    ],
)
def test_neutralise_follows_owasp(cell: str, shown: str) -> None:
    assert neutralise(cell) == shown
