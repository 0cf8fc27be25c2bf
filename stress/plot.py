"""``--plot``: latency over time and the per-warehouse split, as one PNG or SVG image
(and the same figure, as PNG bytes, inside the HTML report).

matplotlib's Agg backend renders without a display (CI, a Kubernetes Job); it is selected before
pyplot is imported, and the import happens only when a plot is asked for.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from .results import OrderResult
from .stats import percentile

COLORS = {"committed": "tab:blue", "rejected": "tab:orange", "failed": "tab:red"}


def percentile_line(
    results: Sequence[OrderResult], pct: float, buckets: int = 60
) -> tuple[list[float], list[float]]:
    """Committed orders' latency percentile per time slice (about ``buckets`` slices)."""
    committed = [r for r in results if r.outcome == "committed"]
    if not committed:
        return [], []
    width = max(max(r.finished for r in committed) / buckets, 0.1)
    slices: dict[int, list[float]] = {}
    for r in committed:
        slices.setdefault(int(r.finished // width), []).append(r.latency)
    xs, ys = [], []
    for index in sorted(slices):
        xs.append((index + 0.5) * width)
        ys.append(percentile(sorted(slices[index]), pct) * 1000)
    return xs, ys


PLOT_EXTRA_HINT = "--plot needs matplotlib: pip install 'regional-orders[stress]'"


def plotting_available() -> bool:
    """matplotlib is the ``stress`` extra, not a runtime dependency (the image has none)."""
    return importlib.util.find_spec("matplotlib") is not None


def write_plot(results: Sequence[OrderResult], path: Path, title: str) -> None:
    """The image format follows the suffix: ``.svg`` is SVG, anything else PNG."""
    image_format = "svg" if path.suffix.lower() == ".svg" else "png"
    data = render_plot(results, title, image_format)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def render_plot(results: Sequence[OrderResult], title: str, image_format: str = "png") -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (timeline, split) = plt.subplots(
        1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [3, 1]}
    )
    try:
        for outcome, color in COLORS.items():
            chosen = [r for r in results if r.outcome == outcome]
            if chosen:
                timeline.scatter(
                    [r.finished for r in chosen],
                    [r.latency * 1000 for r in chosen],
                    s=4,
                    alpha=0.5,
                    color=color,
                    label=f"{outcome} ({len(chosen)})",
                    rasterized=True,
                )
        fallbacks = [r for r in results if r.fallback]
        if fallbacks:
            timeline.scatter(
                [r.finished for r in fallbacks],
                [r.latency * 1000 for r in fallbacks],
                s=14,
                facecolors="none",
                edgecolors="black",
                linewidths=0.6,
                label=f"fallback ({len(fallbacks)})",
            )
        for pct, style in ((50, "-"), (99, "--")):
            xs, ys = percentile_line(results, pct)
            if xs:
                timeline.plot(xs, ys, style, color="black", linewidth=1.2, label=f"p{pct}")
        timeline.set_xlabel("time since start (s)")
        timeline.set_ylabel("latency (ms)")
        if any(r.latency > 0 for r in results):
            timeline.set_yscale("log")
        timeline.set_title("latency over time")
        timeline.grid(True, alpha=0.3)
        if results:
            timeline.legend(loc="best", fontsize="small")

        counts: dict[str, int] = {}
        for r in results:
            if r.outcome == "committed" and r.warehouse:
                counts[r.warehouse] = counts.get(r.warehouse, 0) + 1
        names = sorted(counts)
        bars = split.bar(names, [counts[n] for n in names], color="tab:green")
        split.bar_label(bars)
        split.set_title("committed per warehouse")
        split.set_ylabel("orders")
        fig.suptitle(title)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format=image_format, dpi=100)
        return out.getvalue()
    finally:
        plt.close(fig)
