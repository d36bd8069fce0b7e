"""The report's SVG charts: labels escaped, the same data the same bytes, bars scaled to the largest count."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from cairn.report.svg import MAX_LABEL, bar_chart, histogram


class _Texts(HTMLParser):
    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.texts: list[str] = []
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def test_bar_chart_escapes_labels_and_scales_bars() -> None:
    rows = [("<script>alert(1)</script>", 10), ("png & jpeg", 5), ("x" * 100, 0)]
    markup = bar_chart(rows, 'types "<b>"')
    parsed = _Texts(markup)
    assert set(parsed.tags) == {"svg", "title", "text", "rect"}
    assert "<script>alert(1)</script>" in parsed.texts and "png & jpeg" in parsed.texts
    assert "x" * (MAX_LABEL - 1) + "\u2026" in parsed.texts  # long labels cut, the table keeps them whole
    widths = [int(w) for w in re.findall(r'<rect x="\d+" y="\d+" width="(\d+)"', markup)]
    assert widths[0] == 2 * widths[1] and widths[2] == 0
    assert bar_chart(rows, "t") == bar_chart(list(rows), "t")


def test_empty_charts_say_so() -> None:
    assert "nothing to show" in bar_chart([], "t")
    assert "nothing to show" in histogram([], "t") and "nothing to show" in histogram([("2020", 0)], "t")


def test_histogram_labels_at_most_about_twelve_bins() -> None:
    bins = [(f"{2000 + i // 12}-{i % 12 + 1:02d}", i % 7) for i in range(120)]
    markup = histogram(bins, "dates")
    assert markup.count("<rect") == sum(1 for _, n in bins if n)
    assert 10 <= markup.count('text-anchor="middle"') <= 13
