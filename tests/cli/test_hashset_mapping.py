"""``cairn hashset import|export --mapping``: a tool's CAID codes in a VICS file, read and written only through
the user's table, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from cairn.matching.formats import ReadOptions, ReadReport
from cairn.matching.formats.vics import VICS
from cairn.matching.schemes import load_mapping
from tests.cli.test_hashset_cli import run
from tests.matching.format_helper import BIKE, KITE, TREE

V20 = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/UK/$metadata#Media"
TABLE = {"source": "vics-code", "target": "caid", "table": {"1": "A", "2": "B", "3": "C", "4": "N"}, "name": "tool-x"}


def write_uk_set(path: Path) -> Path:
    """A VICS 2.0 UK file whose Category bytes are a tool's codes: 1, 3, none and 9 (a code no table lists)."""
    value = [
        {"MD5": BIKE["md5"], "Category": 1},
        {"MD5": KITE["md5"], "Category": 3},
        {"MD5": TREE["md5"]},
        {"MD5": "0" * 31 + "1", "Category": 9},
    ]
    path.write_text(json.dumps({"@odata.context": V20, "value": value}))
    return path


def write_table(path: Path, table: dict[str, object] = TABLE) -> Path:
    path.write_text(json.dumps(table))
    return path


def categories(path: Path, table: Path) -> dict[str, object]:
    """md5 -> CAID value of each record of a VICS file, read through ``table``."""
    options = ReadOptions(code_table=load_mapping(table))
    return {
        r.hashes["md5"]: (r.category.value if r.category else None) for r in VICS.read(path, options, ReadReport())
    }


def test_import_through_mapping_export_and_back(tmp_path: Path, case_args: list[str]) -> None:
    source = write_uk_set(tmp_path / "uk.json")
    table = write_table(tmp_path / "tool-x.json")
    out = run("hashset", "import", str(source), *case_args, "--name", "uk", "--mapping", str(table), "--no-progress")
    assert "scheme caid" in out and "1 warnings" in out and "not in mapping" in out

    shown = run("audit", "show", *case_args)
    assert "tool-x" in shown and "hashset.imported" in shown

    export = tmp_path / "out.json"
    args = ["--set", "uk", "--format", "vics", "--out", str(export), "--mapping", str(table)]
    out = run("hashset", "export", *case_args, *args)
    assert "wrote 4 records" in out
    written = json.loads(export.read_text())["value"]
    # Mapped categories are written back as the table's codes; the unlisted code 9 is kept verbatim (round trip).
    assert {m["MD5"]: m.get("Category") for m in written} == {
        BIKE["md5"]: 1, KITE["md5"]: 3, TREE["md5"]: None, "0" * 31 + "1": 9
    }
    # Read back through the same table: the same categories as the source file gives.
    assert categories(export, table) == categories(source, table) == {
        BIKE["md5"]: "A", KITE["md5"]: "C", TREE["md5"]: None, "0" * 31 + "1": None
    }


def test_export_without_mapping_writes_no_caid_bytes(tmp_path: Path, case_args: list[str]) -> None:
    source = write_uk_set(tmp_path / "uk.json")
    table = write_table(tmp_path / "tool-x.json")
    run("hashset", "import", str(source), *case_args, "--name", "uk", "--mapping", str(table), "--no-progress")
    export = tmp_path / "plain.json"
    out = run("hashset", "export", *case_args, "--set", "uk", "--format", "vics", "--out", str(export))
    assert "has no VICS code" in out
    assert [m.get("Category") for m in json.loads(export.read_text())["value"]] == [None, None, None, 9]


def test_mapping_refusals(tmp_path: Path, case_args: list[str]) -> None:
    source = write_uk_set(tmp_path / "uk.json")
    table = write_table(tmp_path / "tool-x.json")
    out = run(
        "hashset", "import", str(source), *case_args, "--mapping", str(table), "--scheme", "dhs", "--no-progress",
        code=2,
    )
    assert "disagree" in out
    bad = tmp_path / "bad.json"
    bad.write_text('{"source": "vics-code", "target": "caid", "table": {"1": "Z"}}')
    out = run("hashset", "import", str(source), *case_args, "--mapping", str(bad), "--no-progress", code=2)
    assert "Bad --mapping file" in out and "not in scheme" in out

    run("hashset", "import", str(source), *case_args, "--name", "uk", "--mapping", str(table), "--no-progress")
    to_dhs = write_table(tmp_path / "dhs.json", {"source": "vics-code", "target": "dhs", "table": {"1": 1}})
    export = tmp_path / "x.json"
    out = run(
        "hashset", "export", *case_args, "--set", "uk", "--format", "vics", "--out", str(export),
        "--mapping", str(to_dhs), code=2,
    )
    assert "scheme 'caid'" in out and not export.exists()
    out = run(
        "hashset", "export", *case_args, "--set", "uk", "--format", "csv", "--out", str(export),
        "--mapping", str(table), code=2,
    )
    assert "VICS category codes" in out
