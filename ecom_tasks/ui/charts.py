"""Small inline SVG charts (no JavaScript, nothing downloaded): lines over nights or days,
horizontal bars for the funnel, a heatmap for cohort retention.

Every text that reaches the SVG goes through :func:`html.escape`, so a chart can be inserted into
a page as markup.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
_FONT = "font-family='sans-serif' font-size='11'"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: float, percent: bool = False) -> str:
    """A chart label: shares as percentages (4.6%), thousands with separators (25,900)."""
    if percent:
        return f"{value:.1%}" if abs(value) >= 0.001 or value == 0 else f"{value:.2%}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if value == 0 or abs(value) >= 0.01:
        return f"{value:.3g}" if abs(value) < 1 else f"{value:,.1f}".rstrip("0").rstrip(".")
    return f"{value:.2g}"


def _polyline(points: list[str], color: str) -> str:
    return f"<polyline fill='none' stroke='{color}' stroke-width='2' points='{' '.join(points)}'/>"


def _empty(title: str, width: int, height: int) -> str:
    return (
        f"<svg class='chart' role='img' width='{width}' height='{height}' viewBox='0 0 {width} {height}'>"
        f"<title>{_e(title)}</title><text x='10' y='20' {_FONT}>{_e(title)}: no data</text></svg>"
    )


def legend_step(name: str) -> int:
    """Room for one legend entry: 150 px, more for a long name (about 6.5 px a character)."""
    return max(150, int(6.5 * len(name)) + 30)


def line_chart(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    title: str,
    *,
    width: int = 640,
    height: int = 220,
    markers: Mapping[str, Sequence[bool]] | None = None,
    percent: bool = False,
) -> str:
    """Lines over ``labels`` (x, in order), one per series; None values leave a gap.

    ``markers``: per series, which points to draw hollow (e.g. nights the gate blocked);
    ``percent``: the values are shares, labelled as percentages.
    """
    values = [v for s in series.values() for v in s if v is not None and math.isfinite(v)]
    if not labels or not values:
        return _empty(title, width, height)
    if len(values) == 1:  # one night so far: the point in words, not a large empty frame
        name, i = next((n, i) for n, s in series.items() for i, v in enumerate(s)
                       if v is not None and math.isfinite(v))  # fmt: skip
        text = f"{name}, {labels[i]}: {_fmt(values[0], percent)} (one point so far)"
        return (
            f"<svg class='chart' role='img' width='{width}' height='40' viewBox='0 0 {width} 40'>"
            f"<title>{_e(title)}</title><text x='4' y='14' {_FONT} font-weight='bold'>{_e(title)}</text>"
            f"<circle cx='10' cy='30' r='4' fill='{PALETTE[0]}'/>"
            f"<text x='20' y='34' {_FONT}>{_e(text)}</text></svg>"
        )
    left, right, top, bottom = 52, 12, 24, 36
    lo, hi = min(values), max(values)
    if hi == lo:
        lo, hi = lo - (abs(lo) * 0.1 or 1), hi + (abs(hi) * 0.1 or 1)
    w, h = width - left - right, height - top - bottom
    n = len(labels)

    def x(i: int) -> float:
        return left + (w * i / (n - 1) if n > 1 else w / 2)

    def y(v: float) -> float:
        return top + h * (1 - (v - lo) / (hi - lo))

    parts = [
        f"<svg class='chart' role='img' width='{width}' height='{height}' viewBox='0 0 {width} {height}'>",
        f"<title>{_e(title)}</title><text x='{left}' y='14' {_FONT} font-weight='bold'>{_e(title)}</text>",
        f"<line x1='{left}' y1='{top + h}' x2='{left + w}' y2='{top + h}' stroke='#999'/>",
        f"<line x1='{left}' y1='{top}' x2='{left}' y2='{top + h}' stroke='#999'/>",
    ]
    for v in (lo, (lo + hi) / 2, hi):
        parts.append(
            f"<text x='{left - 4}' y='{y(v) + 4:.1f}' text-anchor='end' {_FONT}>{_e(_fmt(v, percent))}</text>"
        )
    for i in sorted({0, n // 2, n - 1}):
        anchor = "start" if i == 0 else ("end" if i == n - 1 else "middle")
        parts.append(
            f"<text x='{x(i):.1f}' y='{height - 18}' text-anchor='{anchor}' {_FONT}>{_e(labels[i])}</text>"
        )
    legend_x = 0
    for k, (name, points) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        hollow = (markers or {}).get(name, [False] * len(points))
        segment: list[str] = []
        for i, v in enumerate(points):
            if v is None or not math.isfinite(v):
                if len(segment) > 1:
                    parts.append(_polyline(segment, color))
                segment = []
                continue
            segment.append(f"{x(i):.1f},{y(v):.1f}")
            fill = "white" if i < len(hollow) and hollow[i] else color
            parts.append(
                f"<circle cx='{x(i):.1f}' cy='{y(v):.1f}' r='3' fill='{fill}' stroke='{color}'>"
                f"<title>{_e(name)} {_e(labels[i])}: {_e(_fmt(v, percent))}</title></circle>"
            )
        if len(segment) > 1:
            parts.append(_polyline(segment, color))
        parts.append(
            f"<text x='{left + 8 + legend_x}' y='{height - 4}' fill='{color}' {_FONT}>"
            f"&#9632; {_e(name)}</text>"
        )
        legend_x += legend_step(name)
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(items: Sequence[tuple[str, float]], title: str, *, width: int = 640, bar: int = 22) -> str:
    """Horizontal bars (label, value), each with its value and its share of the first bar."""
    height = 28 + bar * len(items) + 8
    top = max((v for _, v in items), default=0)
    if not items or top <= 0:
        return _empty(title, width, 60)
    left, right = 120, 230  # room for "25,900 (98.9% of sessions)" beside the longest bar
    parts = [
        f"<svg class='chart' role='img' width='{width}' height='{height}' viewBox='0 0 {width} {height}'>",
        f"<title>{_e(title)}</title><text x='4' y='14' {_FONT} font-weight='bold'>{_e(title)}</text>",
    ]
    first = items[0][1] or 1
    for i, (label, value) in enumerate(items):
        y = 24 + i * bar
        length = (width - left - right) * value / top
        share = f"({value / first:.1%} of {items[0][0]})" if i else ""
        parts += [
            f"<text x='{left - 6}' y='{y + bar * 0.65:.1f}' text-anchor='end' {_FONT}>{_e(label)}</text>",
            f"<rect x='{left}' y='{y + 2}' width='{length:.1f}' height='{bar - 6}' fill='{PALETTE[0]}'>"
            f"<title>{_e(label)}: {_e(_fmt(value))}</title></rect>",
            f"<text x='{left + length + 6:.1f}' y='{y + bar * 0.65:.1f}' {_FONT}>"
            f"{_e(_fmt(value))} {_e(share)}</text>",
        ]
    parts.append("</svg>")
    return "".join(parts)


def heatmap(
    rows: Sequence[str], cols: Sequence[int | str], matrix: Sequence[Sequence[float | None]], title: str,
    *, cell: int = 34,
) -> str:  # fmt: skip
    """A shares matrix (0..1) as coloured cells with the percentage written in each."""
    if not rows or not cols:
        return _empty(title, 640, 60)
    left, top = 70, 40
    width, height = left + cell * len(cols) + 10, top + cell * len(rows) + 10
    width = max(width, int(len(title) * 6.6) + 10)  # the title is never cut
    parts = [
        f"<svg class='chart' role='img' width='{width}' height='{height}' viewBox='0 0 {width} {height}'>",
        f"<title>{_e(title)}</title><text x='4' y='14' {_FONT} font-weight='bold'>{_e(title)}</text>",
    ]
    for j, col in enumerate(cols):
        parts.append(
            f"<text x='{left + cell * j + cell / 2}' y='{top - 6}' text-anchor='middle' {_FONT}>"
            f"{_e(col)}</text>"
        )
    for i, row in enumerate(rows):
        y = top + cell * i
        parts.append(
            f"<text x='{left - 6}' y='{y + cell * 0.6:.1f}' text-anchor='end' {_FONT}>{_e(row)}</text>"
        )
        for j, value in enumerate(matrix[i] if i < len(matrix) else []):
            if value is None or not math.isfinite(value):
                continue
            shade = max(0.0, min(1.0, value))
            light = int(245 - 170 * shade)
            color = f"rgb({light},{light + 5 if light < 250 else 250},255)"
            ink = "white" if shade > 0.6 else "#222"
            parts += [
                f"<rect x='{left + cell * j}' y='{y}' width='{cell - 1}' height='{cell - 1}' fill='{color}'>"
                f"<title>{_e(row)} +{_e(cols[j])}: {value:.1%}</title></rect>",
                f"<text x='{left + cell * j + cell / 2}' y='{y + cell * 0.6:.1f}' text-anchor='middle' "
                f"fill='{ink}' font-family='sans-serif' font-size='9'>{value * 100:.0f}</text>",
            ]
    parts.append("</svg>")
    return "".join(parts)
