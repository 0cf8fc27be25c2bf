"""The HTML report's "Over time" section: per-second SVG charts and the per-order latency plot.

The charts are inline SVG (:mod:`stress.svg_chart`, standard library only, so the runtime image
draws them too); the per-order plot is a base64 PNG when matplotlib (the ``stress`` extra) is
installed, and a note saying how to get it otherwise.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from .html_page import Page
from .plot import plotting_available, render_plot
from .results import OrderResult
from .svg_chart import Series, line_chart


def _offered(report: Mapping[str, Any]) -> list[tuple[float, float]]:
    """The offered rate over time, as a step line (stages) or a flat one (``--rate``)."""
    config = report["config"]
    if report.get("stages"):
        points = [(s["start_s"], s["offered_per_s"]) for s in report["stages"]]
        last = report["stages"][-1]
        return [*points, (last["start_s"] + last["duration_s"], last["offered_per_s"])]
    if config.get("rate_per_s"):
        return [(0.0, config["rate_per_s"]), (report["duration_s"], config["rate_per_s"])]
    return []


def charts(page: Page, results: Sequence[OrderResult], title: str) -> None:
    report = page.report
    page.heading("Over time")
    by_t = {int(bucket["t"]): bucket for bucket in report["timeline"]}
    seconds = range(max(by_t, default=-1) + 1)
    buckets = [by_t.get(t, {}) for t in seconds]

    def line(key: str) -> list[tuple[float, float]]:
        return [(t + 0.5, float(b.get(key, 0))) for t, b in zip(seconds, buckets, strict=True)]

    series = [
        Series("committed/s", "#1565c0", line("committed")),
        Series("rejected/s", "#ef6c00", line("rejected")),
        Series("failed/s", "#c62828", line("failed")),
        Series("fallbacks/s", "#00838f", line("fallback"), dashed=True),
    ]
    offered = _offered(report)
    if offered:
        series.insert(0, Series("offered/s", "#777", offered, step=True, dashed=True))
    marks = [s["start_s"] for s in report.get("stages") or []][1:]
    page.add(line_chart(series, "time since start (s)", "orders per second", marks, "orders/s"))
    latency = [
        Series("p50 ms", "#2e7d32", line("p50_ms")),
        Series("p99 ms", "#6a1b9a", line("p99_ms")),
    ]
    page.add(line_chart(latency, "time since start (s)", "latency (ms)", marks, "latency"))
    page.heading("Latency of every order")
    if not plotting_available():
        page.add(
            '<p class="muted">the per-order plot needs matplotlib: '
            "pip install 'regional-orders[stress]'</p>"
        )
        return
    png = base64.b64encode(render_plot(results, title, "png")).decode("ascii")
    page.add(f'<img alt="latency of every order" src="data:image/png;base64,{png}">')
