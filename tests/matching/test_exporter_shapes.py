"""Hash-set files in the shapes real exporters write (learned from public tools and NIST's releases), built here
from benign bytes: NIST's CAID non-RDS VICS 1.2 (OData navigation links, a string MediaSize, Category 8), the
RDSv3 SQLite schema (primary key, PKG/MFG/VERSION tables, the DISTINCT_HASH view), the older NSRL header with
MD4, a Windows tool's VICS 2.0 UK case export (CRLF and tabs, a braced GUID), and an empty case export."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cairn.cli.main import app
from cairn.matching.formats import ReadOptions, ReadReport, detect_format, read_hash_set

runner = CliRunner()


def digests(text: bytes) -> tuple[str, str, str]:
    return hashlib.md5(text).hexdigest(), hashlib.sha1(text).hexdigest(), hashlib.sha256(text).hexdigest()


BIKE = digests(b"a red bicycle on a beach")
KITE = digests(b"a blue kite")


def nist_caid_vics12(path: Path) -> Path:
    """One Media record as NIST's CAID non-RDS sets write it (compact OData 1.2, navigation links)."""
    md5, sha1, _ = BIKE
    link = f"/MediaFiles(FileName='build2.art',FilePath='Game/Content/data',MD5={md5})"
    record = (
        f'{{\n      "odata.id":"Media(\\"{md5}\\")","MediaFiles@odata.navigationLinkUrl":"/Media({md5})/MediaFiles",'
        f'"MediaFiles":[\n      {{\n        "Media@odata.navigationLinkUrl":"{link}","MD5":"{md5}",'
        f'"FileName":"build2.art","FilePath":"Game/Content/data"\n      }}\n      ],"MediaID":0,"MD5":"{md5}",'
        f'"SHA1":"{sha1}","Category":8,"MediaSize":"488"\n    }}'
    )
    path.write_text(
        '{\n  "odata.metadata":"http://github.com/ICMEC/ProjectVic/DataModels/1.2.xml#Media","value":[\n    '
        + record
        + "\n  ]\n}"
    )
    return path


def rds_v3(path: Path) -> Path:
    """The RDSv3 release's schema with upper-case hashes; one file listed in two packages."""
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE FILE (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL,
              crc32 VARCHAR NOT NULL, file_name VARCHAR NOT NULL, file_size INTEGER NOT NULL,
              package_id INTEGER NOT NULL,
              CONSTRAINT PK_FILE__FILE PRIMARY KEY (sha256, sha1, md5, file_name, file_size, package_id));
            CREATE TABLE PKG (package_id INTEGER NOT NULL, name VARCHAR NOT NULL, version VARCHAR NOT NULL);
            CREATE TABLE MFG (manufacturer_id INTEGER NOT NULL, name VARCHAR NOT NULL);
            CREATE TABLE VERSION (version VARCHAR UNIQUE NOT NULL, description VARCHAR NOT NULL);
            CREATE VIEW DISTINCT_HASH AS SELECT DISTINCT sha256, sha1, md5, crc32 FROM FILE;
            """
        )
        rows = [
            (BIKE[2].upper(), BIKE[1].upper(), BIKE[0].upper(), "0A1B2C3D", "bike.dll", 24, 1),
            (BIKE[2].upper(), BIKE[1].upper(), BIKE[0].upper(), "0A1B2C3D", "bike.dll", 24, 2),
            (KITE[2].upper(), KITE[1].upper(), KITE[0].upper(), "00000000", "kite.dll", 11, 2),
        ]
        db.executemany("INSERT INTO FILE VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        db.execute("INSERT INTO VERSION VALUES ('2024.12.1', 'modern minimal')")
    db.close()
    return path


def nsrl_form1(path: Path) -> Path:
    """The older NSRLFile.txt column order (SHA-1 first, MD4 and MD5 later), CRLF line ends."""
    md5, sha1, _ = KITE
    path.write_bytes(
        b'"SHA-1","FileName","FileSize","ProductCode","OpSystemCode","MD4","MD5","CRC32","SpecialCode"\r\n'
        + f'"{sha1.upper()}","kite.dll",11,5,"WIN","{"0" * 32}","{md5.upper()}","ABCD1234",""\r\n'.encode()
    )
    return path


def uk_case_export(path: Path) -> Path:
    """A VICS 2.0 UK case export as a Windows tool writes it: CRLF and tabs, a braced GUID, upper-case hashes."""
    md5, sha1, sha256 = KITE
    media = {
        "MediaID": 1, "Category": 2, "MD5": md5.upper(), "SHA1": sha1.upper(), "MediaSize": 11,
        "IsPrecategorized": "true",
        "AlternativeHashes": [{"MD5": md5.upper(), "HashName": "SHA256", "HashValue": sha256.upper()}],
        "MediaFiles": [{"FileName": "kite.jpg", "FilePath": "C:\\evidence"}],
    }
    path.write_bytes(
        (
            '{\r\n\t"@odata.context":"http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/UK/$metadata'
            '#Cases",\r\n\t"value":[{"CaseID":"{6F9619FF-8B86-D011-B42D-00C04FC964FF}",\r\n\t"CaseNumber":"X1",'
            '"SourceApplicationName":"tool","SourceApplicationVersion":"1.38",\r\n\t"Media":[\r\n\t'
            + json.dumps(media)
            + "\r\n\t]}]\r\n}\r\n"
        ).encode()
    )
    return path


def test_nist_caid_vics12(tmp_path: Path) -> None:
    path = nist_caid_vics12(tmp_path / "NSRL_CAID_nonRDS.json")
    assert detect_format(path).name == "vics"
    report = ReadReport()
    records = list(read_hash_set(path, "auto", ReadOptions(scheme="none", ignorable=True), report))
    assert [r.hashes for r in records] == [{"md5": BIKE[0], "sha1": BIKE[1]}]
    assert report.details["vics_version"] == "1.2" and report.warning_count == 0
    record = records[0]
    assert record.category is None and record.ignorable
    assert record.extra["Category"] == 8 and record.extra["MediaSize"] == "488"  # kept verbatim for the round trip
    assert record.extra["MediaFiles"][0]["FileName"] == "build2.art"
    # Read as Project VIC US, category 8 is not a VIC US value: a warning, never a guess.
    warned = ReadReport()
    assert [r.category for r in read_hash_set(path, "auto", ReadOptions(), warned)] == [None]
    assert warned.warning_count == 1 and "not in scheme 'vic-us'" in warned.warnings[0].message


def test_rds_v3_schema(tmp_path: Path) -> None:
    path = rds_v3(tmp_path / "RDS_2024.12.1_modern_minimal.db")
    assert detect_format(path).name == "nsrl"
    report = ReadReport()
    records = list(read_hash_set(path, "auto", None, report))
    assert report.details["nsrl_table"] == "FILE" and report.warning_count == 0
    assert [(r.hashes["md5"], r.extra["package_id"], r.ignorable) for r in records] == [
        (BIKE[0], 1, True), (BIKE[0], 2, True), (KITE[0], 2, True)
    ]
    assert records[0].hashes == {"sha256": BIKE[2], "sha1": BIKE[1], "md5": BIKE[0]}


def test_older_nsrl_header_is_nsrl_not_plain_csv(tmp_path: Path) -> None:
    path = nsrl_form1(tmp_path / "NSRLFile.txt")
    assert detect_format(path).name == "nsrl"  # known-harmless by default, never known material
    (record,) = read_hash_set(path)
    assert record.hashes == {"sha1": KITE[1], "md5": KITE[0]} and record.ignorable
    assert record.extra["MD4"] == "0" * 32 and record.extra["ProductCode"] == "5"


def test_uk_case_export_needs_a_mapping(tmp_path: Path, db_url: str | None) -> None:
    path = uk_case_export(tmp_path / "uk-case.json")
    case = ["--case", str(tmp_path / "case"), *(["--db", db_url] if db_url else [])]
    refused = runner.invoke(app, ["hashset", "import", str(path), *case, "--no-progress"])
    assert refused.exit_code == 2 and "VICS 2.0 UK file" in refused.output and "--mapping" in refused.output
    table = tmp_path / "caid.json"
    table.write_text(json.dumps({"source": "vics-code", "target": "caid", "table": {"1": "A", "2": "B", "3": "C"}}))
    done = runner.invoke(app, ["hashset", "import", str(path), *case, "--mapping", str(table), "--no-progress"])
    assert done.exit_code == 0, done.output
    assert "1 records, 0 warnings" in done.output and "scheme caid" in done.output
    report = ReadReport()
    (record,) = read_hash_set(path, "auto", ReadOptions(scheme="none"), report)
    assert record.hashes == {"md5": KITE[0], "sha1": KITE[1], "sha256": KITE[2]}
    assert report.details["case_id"] == "6f9619ff-8b86-d011-b42d-00c04fc964ff"


@pytest.mark.parametrize("variant", ["US", "Default"])
def test_empty_case_export(tmp_path: Path, variant: str) -> None:
    path = tmp_path / "empty.json"
    context = f"http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/{variant}/$metadata#Cases"
    value = [{"CaseID": "abc", "Media": [], "SourceApplicationName": "tool"}]
    path.write_text(json.dumps({"@odata.context": context, "value": value}, indent=4, separators=(",", ":")))
    report = ReadReport()
    assert list(read_hash_set(path, "auto", None, report)) == []
    assert report.details["vics_entity"] == "Cases" and report.details["case"]["SourceApplicationName"] == "tool"
