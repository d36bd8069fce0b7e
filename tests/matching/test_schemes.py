"""Category schemes: values never read without their scheme, no category is None, mapping only via a table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cairn.matching.schemes import (
    SCHEMES,
    Category,
    SchemeError,
    SchemeMapping,
    category,
    get_scheme,
    load_mapping,
    map_category,
)


def test_zero_means_opposite_things_in_vic_us_and_dhs() -> None:
    us, dhs = category("vic-us", 0), category("dhs", 0)
    assert us == Category("vic-us", 0, "Non-Pertinent")
    assert dhs == Category("dhs", 0, "Uncategorized")
    assert us != dhs
    assert category("dhs", 5) == Category("dhs", 5, "Non-pertinent")
    with pytest.raises(SchemeError):
        category("vic-us", 5)  # DHS 5 has no vic-us meaning


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_no_category_is_none_never_zero(raw: object) -> None:
    for name in SCHEMES:
        assert category(name, raw) is None


def test_values_parsed_as_files_write_them() -> None:
    assert category("vic-us", " 1 ") == category("vic-us", 1)
    assert category("caid", "a") == Category("caid", "A", "Category A (Sentencing Council)")
    assert category("none", 3) is None  # a set without a scheme has no categories
    for bad in (True, "one", 1.5):
        with pytest.raises(SchemeError):
            category("vic-us", bad)
    with pytest.raises(SchemeError, match="unknown category scheme"):
        get_scheme("vic")


def test_mapping_only_through_an_explicit_table() -> None:
    dhs1 = category("dhs", 1)
    with pytest.raises(SchemeError, match="no mapping table"):
        map_category(dhs1, "vic-us")
    table = SchemeMapping("dhs", "vic-us", {"1": 1, "2": 2, "3": 3, "4": 4, "5": 0}, "dhs-to-us")
    assert map_category(dhs1, "vic-us", table) == category("vic-us", 1)
    assert map_category(category("dhs", 5), "vic-us", table) == category("vic-us", 0)
    with pytest.raises(SchemeError, match="not in mapping"):
        map_category(category("dhs", 0), "vic-us", table)  # DHS "Uncategorized" is not silently non-pertinent
    with pytest.raises(SchemeError, match="maps 'dhs' -> 'vic-us'"):
        map_category(category("vic-us", 1), "dhs", table)  # a table works one way, for its own schemes
    assert map_category(category("vic-us", 2), "vic-us") == category("vic-us", 2)
    assert map_category(None, "caid", table) is None


def test_user_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "tool-x-caid.json"
    path.write_text(json.dumps({"source": "vics-code", "target": "caid", "table": {"1": "A", "2": "b", "9": "N"}}))
    mapping = load_mapping(path)
    assert (mapping.name, mapping.source, mapping.target) == ("tool-x-caid", "vics-code", "caid")
    assert mapping.lookup(2) == category("caid", "B")
    assert mapping.lookup("") is None
    with pytest.raises(SchemeError):
        mapping.lookup(3)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps([1, 2]),
        json.dumps({"source": "vic-us", "target": "uk", "table": {"1": "A"}}),
        json.dumps({"source": "nowhere", "target": "caid", "table": {"1": "A"}}),
        json.dumps({"source": "vics-code", "target": "caid", "table": {}}),
        json.dumps({"source": "vics-code", "target": "caid", "table": {"1": "Z"}}),
        json.dumps({"source": "vics-code", "target": "vic-us", "table": {"1": True}}),
    ],
)
def test_bad_mapping_files_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(SchemeError):
        load_mapping(path)
