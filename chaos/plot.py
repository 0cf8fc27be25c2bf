"""``--plot``: the campaign's timeline — committed and failed orders per second, faults shaded.

matplotlib's Agg backend renders without a display; it is imported only when a plot is asked
for (as the stress tool's plot does).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from .campaign import CampaignResult

COLORS = {
    "kill": "tab:red",
    "freeze": "tab:blue",
    "partition": "tab:purple",
    "slow": "tab:olive",
    "disk-full": "tab:brown",
    "disk-loss": "black",
    "routing-kill": "tab:cyan",
    "scheduler-kill": "tab:pink",
}


def per_second(times: list[float]) -> tuple[list[int], list[int]]:
    counts = Counter(int(t) for t in times)
    if not counts:
        return [], []
    xs = list(range(max(counts)))  # the last second is partial: left out
    return xs, [counts.get(x, 0) for x in xs]


def write_timeline(result: CampaignResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    committed = [r.finished for r in result.results if r.outcome == "committed"]
    failed = [r.finished for r in result.results if r.outcome == "failed"]
    fig, ax = plt.subplots(figsize=(12, 4.5))
    xs, ys = per_second(committed)
    ax.plot(xs, ys, color="tab:green", label="committed/s", linewidth=1.2)
    xs, ys = per_second(failed)
    if xs:
        ax.bar(xs, ys, color="tab:red", alpha=0.6, width=1.0, label="failed/s")
    seen: set[str] = set()
    for record in result.records:
        if record.start is None or record.end is None:
            continue
        label = record.kind if record.kind not in seen else None
        seen.add(record.kind)
        ax.axvspan(
            record.start, record.end, color=COLORS.get(record.kind, "grey"), alpha=0.18, label=label
        )
        if record.healed is not None and record.healed - record.end > 0.2:  # a node booting
            ax.axvspan(
                record.end,
                record.healed,
                color=COLORS.get(record.kind, "grey"),
                alpha=0.07,
                hatch="//",
                label="restarting" if "restarting" not in seen else None,
            )
            seen.add("restarting")
        if record.region:
            ax.annotate(record.region, (record.start, 0), fontsize=7, va="bottom")
    ax.set_xlabel("seconds since the load started")
    ax.set_ylabel("orders per second")
    options = result.options
    ax.set_title(f"orders-chaos {result.run_id}: {options.target}, {options.rate:g} orders/s")
    ax.legend(loc="upper right", fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
