"""One timestamp never breaks an export: out-of-range times are shown raw with a note, every row is written.

Issue 10, item 15: a tar member with mtime 1e20 or 2**80 made ``cairn files`` die with ``OverflowError``
half-way through, leaving invalid JSON. Here such members are scanned end to end on SQLite and PostgreSQL,
and rows holding NaN, infinity and unshowable values are listed directly.
"""

from __future__ import annotations

import csv
import io
import json
import math
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cairn.cli.main import app
from cairn.report.export import iso_utc, write_csv, write_json
from tests.store.pg import pg_schema_url

runner = CliRunner()

NTFS_MAX = 910_692_730_085  # 0x7FFF_FFFF_FFFF_FFFF ticks of 100 ns after 1601, in whole POSIX seconds
YEAR_33658 = 1_000_000_000_000  # 2001-09-09 plus a million million seconds

#: member name -> mtime as the tar header holds it (GNU base-256 numbers for the large ones)
MEMBERS = {
    "a-normal.txt": 1_700_000_000,
    "b-1e20.txt": 10**20,
    "c-2pow80.txt": 2**80,
    "d-minus-1e20.txt": -(10**20),
    "e-ntfs-max.txt": NTFS_MAX,
    "f-year-33658.txt": YEAR_33658,
    "g-after.txt": 1_600_000_000,
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
    else:
        with pg_schema_url() as url:
            yield url


def _tar_of_odd_times(path: Path) -> None:
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for name, mtime in MEMBERS.items():
            body = f"benign text of {name}\n".encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(body), mtime
            tar.addfile(info, io.BytesIO(body))


def _cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_iso_dates_reach_ntfs_years_and_stop_at_the_calendar() -> None:
    assert iso_utc(1_700_000_000.25) == "2023-11-14T22:13:20.250000+00:00"
    assert iso_utc(NTFS_MAX) == "+30828-09-14T02:48:05+00:00"
    assert iso_utc(YEAR_33658).startswith("+33658-")  # type: ignore[union-attr]
    assert iso_utc(-62_135_596_800) == "0001-01-01T00:00:00+00:00"
    for value in (1e20, 2.0**80, -1e20, -62_135_596_801, math.nan, math.inf, -math.inf):
        assert iso_utc(value) is None


def test_a_tar_of_impossible_times_lists_every_member(tmp_path: Path, db: str | None) -> None:
    evidence, case = tmp_path / "times.tar", tmp_path / "case"
    _tar_of_odd_times(evidence)
    scan_args = ["scan", str(evidence), "--case", str(case), "--workers", "1", "--no-progress"]
    _cli(*scan_args, *(["--db", db] if db else []))
    listed = json.loads(_cli("files", "--case", str(case), "--format", "json"))  # valid JSON, all of it
    rows = {r["path"].rsplit("!/", 1)[-1]: r for r in listed if "!/" in r["path"]}
    assert sorted(rows) == sorted(MEMBERS)
    assert rows["a-normal.txt"]["mtime"] == "2023-11-14T22:13:20+00:00"
    assert rows["e-ntfs-max.txt"]["mtime"] == "+30828-09-14T02:48:05+00:00"
    assert rows["f-year-33658.txt"]["mtime"].startswith("+33658-")
    assert rows["g-after.txt"]["mtime"] == "2020-09-13T12:26:40+00:00"
    for name, raw in (("b-1e20.txt", "1e+20"), ("c-2pow80.txt", repr(2.0**80)), ("d-minus-1e20.txt", "-1e+20")):
        assert rows[name]["mtime"] == raw  # the stored seconds, exactly
        assert float(raw) == MEMBERS[name]
        assert "time_out_of_range: mtime " + raw in rows[name]["notes"]
        assert rows[name]["sha256"] and rows[name]["error"] is None
    for name in ("a-normal.txt", "e-ntfs-max.txt", "f-year-33658.txt"):
        assert not rows[name]["notes"]
    as_csv = list(csv.DictReader(io.StringIO(_cli("files", "--case", str(case), "--format", "csv"))))
    assert [r["path"] for r in as_csv] == [r["path"] for r in listed]
    by_name = {r["path"].rsplit("!/", 1)[-1]: r for r in as_csv}
    assert by_name["b-1e20.txt"]["mtime"] == "1e+20" and by_name["d-minus-1e20.txt"]["mtime"] == "-1e+20"


def test_nan_infinity_and_unshowable_values_never_stop_the_listing() -> None:
    rows = [
        {"path": "nan.txt", "size": 1, "mtime": math.nan},
        {"path": "inf.txt", "size": 1, "mtime": math.inf, "notes": "odd_name: shown escaped"},
        {"path": "minus-inf.txt", "size": 1, "mtime": -math.inf},
        {"path": "bytes.txt", "size": 1, "mtime": 0.0, "md5": b"\x01\x02"},
        {"path": "surrogate-\udcff.txt", "size": 1, "mtime": 0.0},
        {"path": "text-time.txt", "size": 1, "mtime": "not a number"},
        {"path": "last.txt", "size": 2, "mtime": 1_700_000_000.0},
    ]
    out = io.StringIO()
    assert write_json(rows, out) == len(rows)
    listed = json.loads(out.getvalue())  # strict JSON: NaN/Infinity would not parse with this hook
    json.loads(out.getvalue(), parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    by_path = {r["path"]: r for r in listed}
    assert by_path["nan.txt"]["mtime"] == "nan" and "time_out_of_range" in by_path["nan.txt"]["notes"]
    assert by_path["inf.txt"]["mtime"] == "inf"
    assert by_path["inf.txt"]["notes"].startswith("odd_name: shown escaped; time_out_of_range:")
    assert by_path["minus-inf.txt"]["mtime"] == "-inf"
    assert by_path["bytes.txt"]["md5"] == "0102" and "unshowable_value" in by_path["bytes.txt"]["notes"]
    assert by_path["surrogate-\\udcff.txt"]["notes"].startswith("unshowable_value:")
    assert "unshowable_value" in by_path["text-time.txt"]["notes"]
    assert by_path["last.txt"]["mtime"] == "2023-11-14T22:13:20+00:00" and by_path["last.txt"]["notes"] is None
    out = io.StringIO()
    assert write_csv(rows, out) == len(rows)
    assert [r["path"] for r in csv.DictReader(io.StringIO(out.getvalue()))] == [r["path"] for r in listed]
    out.getvalue().encode("utf-8")  # every row is writable as UTF-8


def test_stored_nan_and_infinity_list_on_both_backends(tmp_path: Path, db: str | None) -> None:
    from cairn.store import CaseStore
    from tests.store.helpers import make_result

    times = {"nan.txt": math.nan, "inf.txt": math.inf, "minus-inf.txt": -math.inf, "ok.txt": 0.5}
    with CaseStore.open(tmp_path / "case", db) as store:
        ev = store.register_evidence("/evidence/x", "directory", "tester", {})
        run = store.start_run(ev, "test", {}, "tester")
        results = []
        for name, mtime in times.items():
            plain = make_result(name)
            results.append(type(plain)(locator=plain.locator, meta=type(plain.meta)(size=1, mtime=mtime),
                                       hashes=plain.hashes))
        store.write_results(run, ev, results)
        store.finish_run(run, "completed", {}, "tester")
        out = io.StringIO()
        assert write_json(store.iter_file_rows(), out) == len(times)
    by_path = {r["path"]: r for r in json.loads(out.getvalue())}
    assert by_path["ok.txt"]["mtime"] == "1970-01-01T00:00:00.500000+00:00"
    assert by_path["inf.txt"]["mtime"] == "inf" and by_path["minus-inf.txt"]["mtime"] == "-inf"
    # SQLite keeps no NaN (it stores NULL: no time); PostgreSQL keeps it and it is shown raw
    assert by_path["nan.txt"]["mtime"] in (None, "nan")
    for name in ("inf.txt", "minus-inf.txt"):
        assert by_path[name]["notes"].startswith("time_out_of_range:")
