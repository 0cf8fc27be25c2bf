"""Small line charts as inline SVG text, with the standard library only.

The HTML report must be one file that opens anywhere (no CDN, no JavaScript) and must be
writable from the runtime image, which has no matplotlib (plotting is the ``stress`` extra).
So the report's per-second charts are drawn here: a few polylines, axes and labels are all a
reader needs to see when throughput dropped or latency rose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 760, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 26, 34


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    points: Sequence[tuple[float, float]]
    #: a step line (the value holds until the next point), e.g. a stage's offered rate
    step: bool = False
    dashed: bool = False


def _ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least ``top``."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1.0
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(count + 2) if i == 0 or (i - 1) * step < top]


def _fmt(value: float) -> str:
    return f"{value:g}" if value < 10_000 else f"{value / 1000:g}k"


def line_chart(
    series: Sequence[Series],
    x_label: str,
    y_label: str,
    marks: Sequence[float] = (),
    title: str = "",
) -> str:
    """An ``<svg>`` element: every series on shared axes from 0; ``marks`` are dashed vertical
    lines (stage boundaries)."""
    xs = [x for s in series for x, _ in s.points] + list(marks)
    ys = [y for s in series for _, y in s.points]
    x_max = max(xs, default=1.0) or 1.0
    y_ticks = _ticks(max(ys, default=0.0))
    y_max = y_ticks[-1] or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return round(LEFT + x / x_max * plot_w, 1)

    def py(y: float) -> float:
        return round(TOP + plot_h - y / y_max * plot_h, 1)

    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" '
        'stroke="#ccc"/>',
    ]
    for tick in y_ticks:
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py(tick)}" y2="{py(tick)}" '
            'stroke="#e4e4e4"/>'
            f'<text x="{LEFT - 4}" y="{py(tick) + 4}" text-anchor="end" '
            f'font-size="11">{_fmt(tick)}</text>'
        )
    for tick in _ticks(x_max, 6):
        if tick <= x_max:
            parts.append(
                f'<text x="{px(tick)}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle" '
                f'font-size="11">{_fmt(tick)}</text>'
            )
    for mark in marks:
        parts.append(
            f'<line x1="{px(mark)}" x2="{px(mark)}" y1="{TOP}" y2="{TOP + plot_h}" '
            'stroke="#888" stroke-dasharray="4 3"/>'
        )
    for s in series:
        points: list[tuple[float, float]] = []
        for index, (x, y) in enumerate(s.points):
            if s.step and index:
                points.append((x, s.points[index - 1][1]))
            points.append((x, y))
        coords = " ".join(f"{px(x)},{py(y)}" for x, y in points)
        dash = ' stroke-dasharray="6 3"' if s.dashed else ""
        parts.append(
            f'<polyline fill="none" stroke="{escape(s.color)}" stroke-width="1.6"{dash} '
            f'points="{coords}"><title>{escape(s.name)}</title></polyline>'
        )
    legend_x = LEFT  # the legend sits above the plot, where no line can cover it
    for s in series:
        parts.append(
            f'<rect x="{legend_x}" y="{TOP - 18}" width="10" height="10" '
            f'fill="{escape(s.color)}"/>'
            f'<text x="{legend_x + 14}" y="{TOP - 9}" font-size="11">{escape(s.name)}</text>'
        )
        legend_x += 24 + 7 * len(s.name)
    parts.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 4}" text-anchor="middle" '
        f'font-size="11">{escape(x_label)}</text>'
        f'<text x="12" y="{TOP + plot_h / 2}" text-anchor="middle" font-size="11" '
        f'transform="rotate(-90 12 {TOP + plot_h / 2})">{escape(y_label)}</text>'
        "</svg>"
    )
    return "".join(parts)
