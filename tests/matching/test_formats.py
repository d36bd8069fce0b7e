"""ICSE, plain CSV, ThreatExchange, NSRL (legacy CSV and SQLite) and plain lists, as their tools write them."""

from __future__ import annotations

import hashlib
import io
import sqlite3
from pathlib import Path

import pytest

from cairn.matching.formats import ReadOptions, ReadReport, UnknownFormat, WrongFormat, detect_format, read_hash_set
from cairn.matching.formats.base import HashRecord, normalise_hash
from cairn.matching.formats.csv_plain import CSV
from cairn.matching.formats.hashlist import HASH_LIST
from cairn.matching.formats.icse import ICSE
from cairn.matching.formats.nsrl import NSRL
from cairn.matching.formats.te import TE
from tests.matching.format_helper import BIKE, KITE, PHOTODNA, TREE, FormatTestHelper, Sample, cat

ICSE_SHUFFLED = (
    "sha1;Baseline;md5;Extra Column;PhotoDNA;victim identified;Image ID;Is Distributed;"
    "OFFENDER IDENTIFIED;Series name;Number of submissions;File Available;Media Type\n"
    f"{BIKE['sha1'].upper()};n;{BIKE['md5']};x;{PHOTODNA.hex()};YES;101;t;false;bikes;3;y;Image\n"
    f";;{KITE['md5']};;;;102;;;;;;Image\n"
    f";maybe;{TREE['md5']};;;no;103;f;;;1;N;Video\n"
    "zz;y;nothex;;;;104;;;;;;Image\n"
)


class TestIcse(FormatTestHelper):
    FORMAT = ICSE

    def samples(self) -> list[Sample]:
        header = (
            "MD5;SHA1;PhotoDNA;Image ID;Is distributed;Victim identified;Offender identified;Series name;"
            "Number of submissions;File Available;Media Type;Baseline\n"
        )
        plain = header + f"{BIKE['md5']};{BIKE['sha1']};;7;y;n;n;;2;y;Image;n\n"
        return [
            Sample(
                "icse",
                plain,
                [
                    HashRecord(
                        {"md5": BIKE["md5"], "sha1": BIKE["sha1"]},
                        flags={
                            "is_distributed": True,
                            "victim_identified": False,
                            "offender_identified": False,
                            "file_available": True,
                            "baseline": False,
                        },
                        extra={"Image ID": "7", "Number of submissions": "2", "Media Type": "Image"},
                    )
                ],
                "icse.csv",
            ),
            Sample(
                "shuffled",
                ICSE_SHUFFLED,
                [
                    HashRecord(
                        {"sha1": BIKE["sha1"], "md5": BIKE["md5"], "photodna": PHOTODNA.hex()},
                        series="bikes",
                        flags={
                            "baseline": False,
                            "victim_identified": True,
                            "is_distributed": True,
                            "offender_identified": False,
                            "file_available": True,
                        },
                        extra={
                            "Extra Column": "x",
                            "Image ID": "101",
                            "Number of submissions": "3",
                            "Media Type": "Image",
                        },
                    ),
                    HashRecord({"md5": KITE["md5"]}, extra={"Image ID": "102", "Media Type": "Image"}),
                    HashRecord(
                        {"md5": TREE["md5"]},
                        flags={"victim_identified": False, "is_distributed": False, "file_available": False},
                        extra={
                            "Baseline": "maybe",
                            "Image ID": "103",
                            "Number of submissions": "1",
                            "Media Type": "Video",
                        },
                    ),
                ],
                "export.csv",
                warnings=4,  # "maybe"; two bad hashes on line 5 and its skip
                skipped=1,
                roundtrip_warnings=1,  # "maybe", kept verbatim, is still not yes/no
            ),
        ]


class TestPlainCsv(FormatTestHelper):
    FORMAT = CSV

    def samples(self) -> list[Sample]:
        header = "MD5,SHA1,sha256,PDQ,category,series,comment,source\n"
        rows = (
            f"{BIKE['md5']},{BIKE['sha1']},{BIKE['sha256']},{BIKE['pdq']},0,bikes,first,partner\n"
            f"{KITE['md5'].upper()},,,,5,,,\n"
            f"{TREE['md5']},,,,,,,\n"
            "not-a-hash,,,,1,,,\n"
        )
        bike = HashRecord(dict(BIKE), cat("dhs", 0), "bikes", comments="first", extra={"source": "partner"})
        semicolon = f"md5;sha1;category\n{BIKE['md5']};{BIKE['sha1']};A\n"
        tab = f"{BIKE['md5']}\t{BIKE['sha1']}\n{KITE['md5']}\t{KITE['sha1']}\n"
        return [
            Sample(
                "header",
                header + rows,
                [bike, HashRecord({"md5": KITE["md5"]}, cat("dhs", 5)), HashRecord({"md5": TREE["md5"]})],
                "set.csv",
                ReadOptions(scheme="dhs"),
                warnings=2,
                skipped=1,
            ),
            Sample(
                "semicolon",
                semicolon,
                [HashRecord({"md5": BIKE["md5"], "sha1": BIKE["sha1"]}, extra={"category": "A"})],
                "set.csv",
            ),
            Sample(
                "headerless-tab",
                tab,
                [
                    HashRecord({"md5": BIKE["md5"], "sha1": BIKE["sha1"]}),
                    HashRecord({"md5": KITE["md5"], "sha1": KITE["sha1"]}),
                ],
                "set.tsv",
            ),
        ]


def test_csv_writer_round_trip(tmp_path: Path) -> None:
    records = [HashRecord(dict(BIKE), cat("vic-us", 1), "bikes", comments="c"), HashRecord({"md5": KITE["md5"]})]
    out = io.StringIO()
    assert CSV.write(records, out).written == 2
    path = tmp_path / "out.csv"
    path.write_text(out.getvalue())
    back = list(read_hash_set(path, options=ReadOptions(scheme="vic-us")))
    assert [(dict(r.hashes), r.category, r.series, r.comments) for r in back] == [
        (dict(BIKE), cat("vic-us", 1), "bikes", "c"),
        ({"md5": KITE["md5"]}, None, None, None),
    ]


def test_csv_headerless_pdq_option(tmp_path: Path) -> None:
    path = tmp_path / "pdq.csv"
    path.write_text(f"{BIKE['pdq']},bike\n")
    records = list(read_hash_set(path, "csv", ReadOptions(hash_kind="pdq")))
    assert dict(records[0].hashes) == {"pdq": BIKE["pdq"]} and records[0].extra == {"column2": "bike"}


class TestThreatExchange(FormatTestHelper):
    FORMAT = TE

    def samples(self) -> list[Sample]:
        lines = f"pdq {BIKE['pdq']}\nvideo_md5 {KITE['md5']}\nurl http://example.org/\n\npdq 1234\n"
        dataset = (
            "signal_type,signal_str,collab,category,tags\n"
            f"pdq,{TREE['pdq']},Sample Data,POSITIVE_CLASS,media_priority_samples\n"
            f"video_md5,{TREE['md5']},Sample Data,NEGATIVE_CLASS,\n"
        )
        return [
            Sample(
                "lines",
                lines,
                [HashRecord({"pdq": BIKE["pdq"]}), HashRecord({"md5": KITE["md5"]})],
                "signals.txt",
                warnings=3,
                skipped=2,
            ),
            Sample(
                "dataset-csv",
                dataset,
                [
                    HashRecord(
                        {"pdq": TREE["pdq"]},
                        extra={
                            "te_collab": "Sample Data",
                            "te_category": "POSITIVE_CLASS",
                            "te_tags": "media_priority_samples",
                        },
                    ),
                    HashRecord(
                        {"md5": TREE["md5"]}, extra={"te_collab": "Sample Data", "te_category": "NEGATIVE_CLASS"}
                    ),
                ],
                "collab.csv",
            ),
        ]


def test_te_output_is_what_threatexchange_reads(tmp_path: Path) -> None:
    """The signal lines cairn writes load through python-threatexchange's own file collaboration and validators."""
    file_api = pytest.importorskip("threatexchange.exchanges.impl.file_api")
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal

    path = tmp_path / "signals.txt"
    with path.open("w") as out:
        TE.write([HashRecord({"pdq": BIKE["pdq"], "md5": BIKE["md5"]})], out)
    config = file_api.FileCollaborationConfig(name="t", api="local_file", enabled=True, filename=str(path))
    api = file_api.LocalFileSignalExchangeAPI(config)
    updates = {key for delta in api.fetch_iter([], None) for key in delta.updates}
    assert updates == {("pdq", BIKE["pdq"]), ("video_md5", BIKE["md5"])}
    assert PdqSignal.validate_signal_str(BIKE["pdq"]) == BIKE["pdq"]
    assert VideoMD5Signal.validate_signal_str(BIKE["md5"]) == BIKE["md5"]


NSRL_LEGACY = (
    '"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"\n'
    f'"{BIKE["sha1"].upper()}","{BIKE["md5"].upper()}","0A1B2C3D","readme, first.txt",1024,1,"WIN",""\n'
    f'"{KITE["sha1"].upper()}","{KITE["md5"].upper()}","00000000","kite.dll",2048,2,"WIN",""\n'
    '"BAD","ALSOBAD","0","x",1,1,"WIN",""\n'
)
NSRL_EXTRA = {"CRC32": "0A1B2C3D", "FileName": "readme, first.txt", "FileSize": "1024", "ProductCode": "1"}


def build_rds(path: Path, table: str = "FILE") -> None:
    """A small RDSv3-shaped database (the current NSRL release's FILE/METADATA table)."""
    with sqlite3.connect(path) as db:
        db.execute(
            f"CREATE TABLE {table} (sha256 TEXT, sha1 TEXT, md5 TEXT, crc32 TEXT, file_name TEXT, "
            "file_size INTEGER, package_id INTEGER)"
        )
        db.execute("CREATE TABLE PKG (package_id INTEGER, name TEXT)")
        rows = [
            (BIKE["sha256"].upper(), BIKE["sha1"].upper(), BIKE["md5"].upper(), "0A1B2C3D", "readme.txt", 10, 1),
            (KITE["sha256"].upper(), KITE["sha1"].upper(), KITE["md5"].upper(), None, "kite.dll", 20, 2),
            ("short", None, None, None, "bad", 1, 1),
        ]
        db.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    db.close()


class TestNsrl(FormatTestHelper):
    FORMAT = NSRL

    def samples(self) -> list[Sample]:
        legacy = [
            HashRecord(
                {"sha1": BIKE["sha1"], "md5": BIKE["md5"]},
                ignorable=True,
                extra={**NSRL_EXTRA, "OpSystemCode": "WIN", "SpecialCode": ""},
            ),
            HashRecord(
                {"sha1": KITE["sha1"], "md5": KITE["md5"]},
                ignorable=True,
                extra={
                    "CRC32": "00000000",
                    "FileName": "kite.dll",
                    "FileSize": "2048",
                    "ProductCode": "2",
                    "OpSystemCode": "WIN",
                    "SpecialCode": "",
                },
            ),
        ]
        current = [
            HashRecord(
                {k: BIKE[k] for k in ("sha256", "sha1", "md5")},
                ignorable=True,
                extra={"crc32": "0A1B2C3D", "file_name": "readme.txt", "file_size": 10, "package_id": 1},
            ),
            HashRecord(
                {k: KITE[k] for k in ("sha256", "sha1", "md5")},
                ignorable=True,
                extra={"file_name": "kite.dll", "file_size": 20, "package_id": 2},
            ),
        ]
        return [
            Sample("legacy", NSRL_LEGACY, legacy, "NSRLFile.txt", warnings=3, skipped=1),
            Sample("rds-file", build_rds, current, "RDS_modern.db", warnings=2, skipped=1),
            Sample(
                "rds-metadata",
                lambda p: build_rds(p, "METADATA"),
                current,
                "minimal.db",
                warnings=2,
                skipped=1,
                details={"nsrl_table": "METADATA"},
            ),
        ]


def test_rds_opened_read_only(tmp_path: Path) -> None:
    path = tmp_path / "rds.db"
    build_rds(path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    path.chmod(0o444)
    tmp_path.chmod(0o555)  # not even a journal could be created next to it
    try:
        assert len(list(read_hash_set(path))) == 2
    finally:
        tmp_path.chmod(0o755)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rds.db"]


def test_sqlite_without_hash_table_is_wrong_format(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    db.close()
    with pytest.raises(WrongFormat):
        list(read_hash_set(path))


class TestHashList(FormatTestHelper):
    FORMAT = HASH_LIST

    def samples(self) -> list[Sample]:
        text = (
            "# known-good files\n"
            f"{BIKE['md5']}\n"
            f"{KITE['sha1'].upper()}\n"
            f"{TREE['sha256']}  tree notes.txt\n"
            "\n"
            "xyz not a hash\n"
            "abc123\n"
        )
        return [
            Sample(
                "mixed",
                text,
                [
                    HashRecord({"md5": BIKE["md5"]}, ignorable=True),
                    HashRecord({"sha1": KITE["sha1"]}, ignorable=True),
                    HashRecord({"sha256": TREE["sha256"]}, ignorable=True, extra={"FileName": "tree notes.txt"}),
                ],
                "known.txt",
                warnings=2,
                skipped=2,
            ),
            Sample(
                "known-bad",
                f"{BIKE['md5']}\n",
                [HashRecord({"md5": BIKE["md5"]})],
                "list.txt",
                ReadOptions(ignorable=False),
            ),
        ]


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("md5", BIKE["md5"].upper(), BIKE["md5"]),
        ("md5", "0x" + BIKE["md5"], BIKE["md5"]),
        ("pdq", " " + BIKE["pdq"] + " ", BIKE["pdq"]),
        ("photodna", PHOTODNA.hex().upper(), PHOTODNA.hex()),
    ],
)
def test_normalise_hash_accepts(kind: str, text: str, expected: str) -> None:
    assert normalise_hash(kind, text) == expected


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("md5", BIKE["sha1"]),
        ("pdq", BIKE["md5"]),
        ("sha1", "g" * 40),
        ("photodna", "A" * 100),
        ("crc", "00"),
        ("md5", 5),
    ],
)
def test_normalise_hash_refuses(kind: str, text: object) -> None:
    with pytest.raises(ValueError):
        normalise_hash(kind, text)


def test_unknown_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("shopping list: bread, milk\n")
    with pytest.raises(UnknownFormat):
        detect_format(path)


def test_many_bad_rows_counted_not_all_kept(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(f"{BIKE['md5']}\n" + "zz\n" * 3000)
    report = ReadReport()
    assert len(list(read_hash_set(path, report=report))) == 1
    assert (report.skipped, report.warning_count, len(report.warnings)) == (3000, 3000, 1000)
    assert report.warnings[0].position == 2


def test_csv_row_the_parser_refuses_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.write_text(f"md5,comment\n{BIKE['md5']},a\n{KITE['md5']},{'x' * (2 << 20)}\n{TREE['md5']},c\n")
    report = ReadReport()
    records = list(read_hash_set(path, report=report))
    assert [r.hashes["md5"] for r in records] == [BIKE["md5"], TREE["md5"]]
    assert report.skipped == 1 and report.warnings[0].position == 3
