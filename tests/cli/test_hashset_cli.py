"""``cairn hashset import|list|export`` on SQLite and PostgreSQL, with files the tests build from benign bytes."""

from __future__ import annotations

import io
import json
from pathlib import Path

from typer.testing import CliRunner

from cairn.cli.main import app
from cairn.matching.formats import ReadOptions, ReadReport
from cairn.matching.formats.vics import VICS
from tests.matching import test_vics as tv
from tests.matching.format_helper import BIKE, KITE, TREE, essence

runner = CliRunner()


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_import_list_export_reimport_round_trip(tmp_path: Path, case_args: list[str]) -> None:
    sample = tv.v20_media_sample()  # a VICS 2.0 UK file: its codes are read through the tool's table
    source = sample.build(tmp_path)
    table = tmp_path / "tool-x.json"
    table.write_text(json.dumps({"source": "vics-code", "target": "caid", "table": dict(tv.CAID_CODES.table)}))
    mapped = ["--mapping", str(table)]
    out = run("hashset", "import", str(source), *case_args, "--name", "vic", *mapped, "--no-progress")
    assert "imported hash set 'vic'" in out and "format vics, scheme caid" in out
    listed = run("hashset", "list", *case_args)
    assert "vic" in listed and f"{len(sample.expected):,}" in listed

    export = tmp_path / "vic-export.json"
    out = run("hashset", "export", *case_args, "--set", "vic", "--format", "vics", "--out", str(export), *mapped)
    assert f"wrote {len(sample.expected)} records" in out
    run("hashset", "import", str(export), *case_args, "--name", "vic-again", *mapped, "--no-progress")
    again = tmp_path / "again.json"
    run("hashset", "export", *case_args, "--set", "vic-again", "--format", "vics", "--out", str(again), *mapped)

    def records(path: Path) -> list[object]:
        return [essence(r, False) for r in VICS.read(path, ReadOptions(code_table=tv.CAID_CODES), ReadReport())]

    assert records(again) == records(export) == records(source)
    assert [r[1] for r in records(source)] == [e.category for e in sample.expected]
    assert "audit chain intact" in run("audit", "verify", *case_args)
    assert "hashset.imported" in run("audit", "show", *case_args)


def test_same_file_refused(tmp_path: Path, case_args: list[str]) -> None:
    path = tmp_path / "known.csv"
    path.write_text(f"md5\n{BIKE['md5']}\n")
    run("hashset", "import", str(path), *case_args, "--no-progress")
    out = run("hashset", "import", str(path), *case_args, "--name", "second", "--no-progress", code=2)
    assert "already imported as hash set 'known'" in out


def test_malformed_row_reports_warnings_and_imports_the_rest(tmp_path: Path, case_args: list[str]) -> None:
    path = tmp_path / "set.csv"
    path.write_text(f"md5,sha1\n{BIKE['md5']},\nnothex,\n{KITE['md5']},{KITE['sha1']}\n")
    out = run("hashset", "import", str(path), *case_args)  # with the progress bar
    assert "2 records, 2 warnings (1 rows skipped)" in out and "line/record 3" in out
    csv_out = tmp_path / "out.csv"
    run("hashset", "export", *case_args, "--set", "set", "--format", "csv", "--out", str(csv_out))
    text = csv_out.read_text()
    assert BIKE["md5"] in text and KITE["sha1"] in text and "nothex" not in text


def test_plain_list_needs_known_harmless_or_known_bad(tmp_path: Path, case_args: list[str]) -> None:
    path = tmp_path / "hashes.txt"
    path.write_text(f"{BIKE['md5']}\n{TREE['sha256']}\n")
    out = run("hashset", "import", str(path), *case_args, "--no-progress", code=2)
    assert "--known-harmless" in out and "--known-bad" in out
    out = run("hashset", "import", str(path), *case_args, "--known-bad", "--no-progress")
    assert "known material" in out
    assert "known material" in run("hashset", "list", *case_args)


def test_csv_categories_need_a_scheme(tmp_path: Path, case_args: list[str]) -> None:
    path = tmp_path / "cats.csv"
    path.write_text(f"md5,category\n{BIKE['md5']},1\n{KITE['md5']},\n")
    out = run("hashset", "import", str(path), *case_args, "--no-progress", code=2)
    assert "--scheme" in out
    run("hashset", "import", str(path), *case_args, "--scheme", "dhs", "--no-progress")
    export = tmp_path / "cats-out.csv"
    out = run("hashset", "export", *case_args, "--set", "cats", "--format", "csv", "--out", str(export),
              "--only-categorised")
    assert "wrote 1 records" in out and KITE["md5"] not in export.read_text()


def test_errors_say_what_to_do(tmp_path: Path, case_args: list[str]) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list: bread, milk\n")
    assert "--format" in run("hashset", "import", str(notes), *case_args, code=2)
    assert "No hash-set file" in run("hashset", "import", str(tmp_path / "absent.json"), *case_args, code=2)
    vics_named = tmp_path / "list.txt"
    vics_named.write_text(f"{BIKE['md5']}\n")
    out = run("hashset", "import", str(vics_named), *case_args, "--format", "vics", "--known-bad", code=2)
    assert "is not a vics file" in out
    assert "no hash sets" in run("hashset", "list", *case_args)
    out = run("hashset", "export", *case_args, "--set", "nope", "--out", str(tmp_path / "x.json"), code=2)
    assert "cairn hashset list" in out
    assert not (tmp_path / "x.json").exists()


def test_import_is_audited_in_the_case(tmp_path: Path, case_args: list[str]) -> None:
    path = tmp_path / "set.csv"
    path.write_text(f"md5\n{BIKE['md5']}\n")
    run("hashset", "import", str(path), *case_args, "--actor", "examiner-7", "--no-progress")
    shown = run("audit", "show", *case_args)
    line = next(x for x in io.StringIO(shown) if "hashset.imported" in x)
    assert "examiner-7" in line and '"format":"csv"' in line and '"records":1' in line
