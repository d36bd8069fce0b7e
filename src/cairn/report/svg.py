"""Charts for the HTML report, drawn as inline SVG by cairn itself: no script, no font files, no external reference.

Every label is escaped (paths, names and prompts are hostile input); the same data gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

#: Longest label drawn in a chart (the tables beside the charts hold the whole text).
MAX_LABEL = 48
_BAR_COLOUR = "#3b6ea5"
_FONT = "font-family:sans-serif;font-size:11px"


def _label(text: str) -> str:
    short = text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "\u2026"
    return escape(short, quote=True)


def _number(n: int) -> str:
    return f"{n:,}"


def bar_chart(rows: Sequence[tuple[str, int]], title: str, *, width: int = 640) -> str:
    """A horizontal bar chart: one bar per ``(label, count)`` in the given order, counts written beside the bars.

    An empty ``rows`` gives a chart that says "nothing to show".
    """
    bar_h, gap, label_w, value_w = 16, 4, 220, 70
    height = max(len(rows), 1) * (bar_h + gap) + 24
    top = max((n for _, n in rows), default=0)
    plot_w = width - label_w - value_w
    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-label="{escape(title, quote=True)}"><title>{escape(title)}</title>'
    ]
    if not rows:
        parts.append(f'<text x="4" y="16" style="{_FONT}">nothing to show</text></svg>')
        return "".join(parts)
    for i, (label, n) in enumerate(rows):
        y = 4 + i * (bar_h + gap)
        w = 0 if top == 0 else max(1, round(plot_w * n / top)) if n else 0
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end" style="{_FONT}">{_label(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="{_BAR_COLOUR}"/>'
            f'<text x="{label_w + w + 4}" y="{y + 12}" style="{_FONT}">{_number(n)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def histogram(bins: Sequence[tuple[str, int]], title: str, *, width: int = 720, height: int = 220) -> str:
    """A vertical-bar histogram of ``(bin label, count)`` in order; some bin labels are written under the axis
    (at most about twelve, evenly spaced), the largest count at the top of the axis."""
    left, bottom, top_pad = 48, 40, 12
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    top = max((n for _, n in bins), default=0)
    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-label="{escape(title, quote=True)}"><title>{escape(title)}</title>'
    ]
    if not bins or top == 0:
        parts.append(f'<text x="4" y="16" style="{_FONT}">nothing to show</text></svg>')
        return "".join(parts)
    step = plot_w / len(bins)
    base = top_pad + plot_h
    parts.append(
        f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="#444"/>'
        f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{base}" stroke="#444"/>'
        f'<text x="{left - 4}" y="{top_pad + 8}" text-anchor="end" style="{_FONT}">{_number(top)}</text>'
        f'<text x="{left - 4}" y="{base}" text-anchor="end" style="{_FONT}">0</text>'
    )
    every = max(1, -(-len(bins) // 12))
    for i, (label, n) in enumerate(bins):
        x = left + i * step
        h = 0 if n == 0 else max(1.0, plot_h * n / top)
        if n:
            parts.append(
                f'<rect x="{x + 0.5:.2f}" y="{base - h:.2f}" width="{max(step - 1, 0.5):.2f}" height="{h:.2f}" '
                f'fill="{_BAR_COLOUR}"><title>{_label(label)}: {_number(n)}</title></rect>'
            )
        if i % every == 0:
            parts.append(
                f'<text x="{x + step / 2:.2f}" y="{base + 14}" text-anchor="middle" style="{_FONT}">'
                f"{_label(label)}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)
