"""The report's facts that need no case: the timeline's bins, dangerous callables found in a finding, settings
flattened."""

from __future__ import annotations

from cairn.report.facts import MAX_BINS, dangerous_callables, flatten, timeline


def month(year: int, m: int) -> int:
    return year * 12 + m - 1


def test_timeline_by_month_with_empty_months() -> None:
    found = timeline({month(2021, 1): 3, month(2021, 4): 1}, undated=2, out_of_range=1)
    assert found["unit"] == "month"
    assert found["bins"] == [("2021-01", 3), ("2021-02", 0), ("2021-03", 0), ("2021-04", 1)]
    assert (found["dated"], found["undated"], found["out_of_range"]) == (4, 2, 1)
    assert (found["first"], found["last"], found["earlier"], found["later"]) == ("2021-01", "2021-04", 0, 0)


def test_timeline_cuts_wild_dates_and_switches_to_years() -> None:
    months = {month(2020 + i // 12, i % 12 + 1): 10 for i in range(36)}  # 360 files over three years
    months[month(1601, 1)] = 1  # NTFS's zero time
    months[month(9999, 12)] = 1
    found = timeline(months)
    assert found["unit"] == "month" and len(found["bins"]) == 36
    assert (found["earlier"], found["later"]) == (1, 1)
    assert (found["first"], found["last"]) == ("1601-01", "9999-12")

    spread = {month(1900 + y, 1): 5 for y in range(0, 120, 3)}
    years = timeline(spread)
    assert years["unit"] == "year" and years["bins"][0] == ("1900", 5) and years["bins"][1] == ("1901", 0)
    assert sum(n for _, n in years["bins"]) + years["earlier"] + years["later"] == sum(spread.values())

    long_ago = timeline({month(1000 + y, 6): 400 for y in range(0, 1000, 2)})
    assert len(long_ago["bins"]) <= MAX_BINS
    assert sum(n for _, n in long_ago["bins"]) + long_ago["earlier"] + long_ago["later"] == 400 * 500


def test_empty_timeline() -> None:
    assert timeline({}, undated=3)["bins"] == [] and timeline({}, undated=3)["undated"] == 3


def test_dangerous_callables_nested_and_bounded() -> None:
    finding = {"pickles": [{"dangerous": [{"callable": "builtins.print"}],
                            "nested": [{"pickles": [{"dangerous": [{"callable": "os.system"}, {"x": 1}]}]}]}]}
    assert sorted(dangerous_callables(finding)) == ["builtins.print", "os.system"]
    deep: dict[str, object] = {"dangerous": [{"callable": "too.deep"}]}
    for _ in range(50):
        deep = {"nested": deep}
    assert dangerous_callables(deep) == []
    assert dangerous_callables([{"a": [1, 2]}] * 100_000) == []  # a wide finding stops at the budget


def test_flatten_settings() -> None:
    assert flatten({"b": {"y": [1, None], "x": None}, "a": True}) == [("a", "True"), ("b.x", "-"), ("b.y", "1, -")]
