"""VICS JSON: v1.2, v1.3, v2.0 Media and v2.0 Cases as exporters write them, built here from benign bytes."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest

from cairn.matching.formats import ReadOptions, ReadReport, WrongFormat, read_hash_set
from cairn.matching.formats.base import HashRecord
from cairn.matching.formats.vics import VICS
from cairn.matching.schemes import mapping_from_dict
from tests.matching.format_helper import BIKE, KITE, PHOTODNA, TREE, FormatTestHelper, Sample, cat

V13 = "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Media"
V12 = "http://github.com/ICMEC/ProjectVic/DataModels/1.2.xml#Media"
V20 = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/{}/$metadata#{}"
CAID_CODES = mapping_from_dict(
    {"source": "vics-code", "target": "caid", "table": {"1": "A", "2": "B", "3": "C", "0": "N"}, "name": "tool-x"}
)


def doc(context_key: str, context: str, value: list[Any]) -> str:
    return json.dumps({context_key: context, "value": value}, indent=1)


MEDIA_FILES = [{"MediaFileID": 1, "FileName": "bicycle.jpg", "FilePath": "C:\\pics", "Deleted": False}]
NEW_FIELD = {"kept": [1, 2.5, None]}


def v13_sample() -> Sample:
    value = [
        {
            "MediaID": 1,
            "Category": 2,
            "MD5": BIKE["md5"].upper(),
            "SHA1": BIKE["sha1"].upper(),
            "VictimIdentified": "true",
            "OffenderIdentified": "False",
            "IsDistributed": True,
            "Series": "bicycles",
            "Comments": "benign test picture",
            "MediaSize": 1234,
            "MediaFiles": MEDIA_FILES,
            "SomethingNew": NEW_FIELD,
        },
        {"MediaID": 2, "MD5": KITE["md5"], "Tags": "kite"},
    ]
    expected = [
        HashRecord(
            {"md5": BIKE["md5"], "sha1": BIKE["sha1"]},
            cat("vic-us", 2),
            "bicycles",
            {"victim_identified": True, "offender_identified": False, "is_distributed": True},
            "benign test picture",
            extra={"MediaID": 1, "MediaSize": 1234, "MediaFiles": MEDIA_FILES, "SomethingNew": NEW_FIELD},
        ),
        HashRecord({"md5": KITE["md5"]}, None, extra={"MediaID": 2, "Tags": "kite"}),
    ]
    return Sample("v1.3", doc("odata.metadata", V13, value), expected, "set.json", details={"vics_version": "1.3"})


def v12_sample() -> Sample:
    value = [
        {
            "MD5": TREE["md5"],
            "Category": "3",
            "PhotoDNA": PHOTODNA.hex().upper(),
            "IsPrecategorized": "True",
            "SelfGenerated": "false",
            "PrecategorizationSource": "NIST",
        }
    ]
    expected = [
        HashRecord(
            {"md5": TREE["md5"], "photodna": PHOTODNA.hex()},
            cat("vic-us", 3),
            flags={"is_precategorized": True, "self_generated": False},
            extra={"PrecategorizationSource": "NIST"},
        )
    ]
    return Sample("v1.2", doc("odata.metadata", V12, value), expected, "caid.json", details={"vics_version": "1.2"})


def v20_media_sample() -> Sample:
    b64 = base64.b64encode(PHOTODNA).decode()
    value = [
        {
            "MD5": BIKE["md5"],
            "Category": 1,
            "IsDistributed": "True",
            "AlternativeHashes": [
                {"MD5": BIKE["md5"], "HashName": "SHA256", "HashValue": BIKE["sha256"].upper()},
                {"MD5": BIKE["md5"], "HashName": "PhotoDNA", "HashValue": b64},
                {"MD5": BIKE["md5"], "HashName": "PDQ", "HashValue": BIKE["pdq"]},
                {"MD5": BIKE["md5"], "HashName": "SomeVendorHash", "HashValue": "xyz"},
            ],
        },
        {"MD5": KITE["md5"], "Category": 0},
        {"MD5": TREE["md5"]},
    ]
    expected = [
        HashRecord(
            {"md5": BIKE["md5"], "sha256": BIKE["sha256"], "photodna": PHOTODNA.hex(), "pdq": BIKE["pdq"]},
            cat("caid", "A"),
            flags={"is_distributed": True},
            extra={"AlternativeHashes": [{"MD5": BIKE["md5"], "HashName": "SomeVendorHash", "HashValue": "xyz"}]},
        ),
        HashRecord({"md5": KITE["md5"]}, cat("caid", "N")),
        HashRecord({"md5": TREE["md5"]}, None),
    ]
    return Sample(
        "v2.0-media",
        doc("@odata.context", V20.format("UK", "Media"), value),
        expected,
        "uk.json",
        ReadOptions(scheme="caid", code_table=CAID_CODES),
        details={"vics_version": "2.0", "vics_variant": "UK", "vics_entity": "Media"},
    )


CASE_FIELDS = {
    "CaseID": "{6F9619FF-8B86-D011-B42D-00C04FC964FF}",
    "CaseNumber": "2026-0042",
    "ContactOrganization": "Test Unit",
    "ContactName": "A. Tester",
    "SeizureDate": "2026-01-02T03:04:05Z",
    "SourceApplicationName": "cairn-tests",
    "SourceApplicationVersion": "0.1",
}


def v20_case_sample() -> Sample:
    media = [
        {"MD5": BIKE["md5"], "SHA1": BIKE["sha1"], "Category": 4, "MediaFiles": MEDIA_FILES},
        {"MD5": "not-a-hash", "Category": 1},
        {"MD5": KITE["md5"], "Category": 7, "VictimIdentified": "maybe"},
    ]
    case = {**CASE_FIELDS, "Media": media, "TotalMediaFiles": 3, "TotalPrecategorized": 2}
    expected = [
        HashRecord({"md5": BIKE["md5"], "sha1": BIKE["sha1"]}, cat("vic-us", 4), extra={"MediaFiles": MEDIA_FILES}),
        HashRecord({"md5": KITE["md5"]}, None, extra={"Category": 7, "VictimIdentified": "maybe"}),
    ]
    return Sample(
        "v2.0-case",
        doc("@odata.context", V20.format("US", "Cases"), [case]),
        expected,
        "case.json",
        warnings=4,  # bad MD5 and the skip it causes; category 7 outside vic-us; "maybe" is not yes/no
        skipped=1,
        roundtrip_warnings=2,  # the kept category 7 and "maybe" are still not interpretable after the trip
        details={"vics_entity": "Cases", "case_id": "6f9619ff-8b86-d011-b42d-00c04fc964ff"},
    )


class TestVics(FormatTestHelper):
    FORMAT = VICS

    def samples(self) -> list[Sample]:
        return [v13_sample(), v12_sample(), v20_media_sample(), v20_case_sample()]


def test_case_fields_come_back_whole(tmp_path: Path) -> None:
    path = v20_case_sample().build(tmp_path)
    report = ReadReport()
    records = list(read_hash_set(path, report=report))
    assert report.details["case"] == {**CASE_FIELDS, "TotalMediaFiles": 3, "TotalPrecategorized": 2}
    out = io.StringIO()
    VICS.write(records, out, variant="US", case=report.details["case"])
    written = json.loads(out.getvalue())
    assert written["@odata.context"].endswith("2.0.xml/US/$metadata#Cases")
    assert written["value"][0]["CaseID"] == CASE_FIELDS["CaseID"]
    assert [m["MD5"] for m in written["value"][0]["Media"]] == [BIKE["md5"], KITE["md5"]]


def test_same_category_byte_means_different_things_per_scheme(tmp_path: Path) -> None:
    path = tmp_path / "zero.json"
    path.write_text(doc("odata.metadata", V13, [{"MD5": BIKE["md5"], "Category": 0}, {"MD5": KITE["md5"]}]))
    us = list(read_hash_set(path, options=ReadOptions(scheme="vic-us")))
    dhs = list(read_hash_set(path, options=ReadOptions(scheme="dhs")))
    assert us[0].category is not None and us[0].category.label == "Non-Pertinent"
    assert dhs[0].category is not None and dhs[0].category.label == "Uncategorized"
    assert us[0].category != dhs[0].category
    assert us[1].category is None and dhs[1].category is None  # no category: uncategorised, never 0
    kept = list(read_hash_set(path, options=ReadOptions(scheme="none")))
    assert kept[0].category is None and kept[0].extra == {"Category": 0}


def test_version_recognised_by_pattern_not_exact_string(tmp_path: Path) -> None:
    odd = "https://example.org/ProjectVic/DataModels/2.0.xml/CUSTOM/$metadata#Media"
    path = tmp_path / "odd.json"
    path.write_text(doc("@odata.context", odd, [{"MD5": BIKE["md5"], "Category": "1"}]))
    report = ReadReport()
    assert len(list(read_hash_set(path, report=report))) == 1
    assert (report.details["vics_version"], report.details["vics_variant"]) == ("2.0", "CUSTOM")


def test_truncated_file_keeps_what_was_read(tmp_path: Path) -> None:
    text = doc("@odata.context", V20.format("Default", "Media"), [{"MD5": BIKE["md5"]}, {"MD5": KITE["md5"]}])
    path = tmp_path / "cut.json"
    path.write_text(text[: text.index(KITE["md5"]) + 5])
    report = ReadReport()
    records = list(read_hash_set(path, "vics", report=report))
    assert [r.hashes["md5"] for r in records] == [BIKE["md5"]]
    assert report.details["damaged"] is True and report.warning_count == 1


def test_caid_codes_without_a_mapping_are_not_guessed(tmp_path: Path) -> None:
    path = v20_media_sample().build(tmp_path)
    report = ReadReport()
    records = list(read_hash_set(path, options=ReadOptions(scheme="caid"), report=report))
    assert [r.category for r in records] == [None, None, None]
    assert records[0].extra["Category"] == 1 and report.warning_count == 2


def test_shape_told_by_the_events_when_no_context_leads(tmp_path: Path) -> None:
    """No context up front (or none at all): a Case is still told from its ``Media`` list, a hash set from its items."""
    case = {"CaseID": "{ABC}", "Media": [{"MD5": BIKE["md5"], "Category": 1}], "CaseNumber": "late field"}
    path = tmp_path / "case.json"
    path.write_text(json.dumps({"value": [case], "@odata.context": V20.format("Default", "Cases")}))
    report = ReadReport()
    records = list(read_hash_set(path, report=report))
    assert [r.hashes["md5"] for r in records] == [BIKE["md5"]]
    assert report.details["case"] == {"CaseID": "{ABC}", "CaseNumber": "late field"}
    assert report.details["case_id"] == "abc" and report.details["vics_version"] == "2.0"
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"value": [{"MD5": KITE["md5"]}, {"MD5": TREE["md5"]}]}))
    assert [r.hashes["md5"] for r in read_hash_set(bare)] == [KITE["md5"], TREE["md5"]]


def test_json_that_is_not_vics_is_wrong_format(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text(json.dumps([{"MD5": BIKE["md5"]}]))
    with pytest.raises(WrongFormat):
        list(read_hash_set(path, "vics"))
