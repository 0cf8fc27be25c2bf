"""Bars a run must meet besides ``--min-success``: ``--max-p99`` and ``--max-failed``.

A load test gating a pipeline needs more than "most orders got through": a release that makes
p99 latency ten times worse, or fails a handful of orders in every run, still passes a 99 %
success rate. Each bar is checked against the same figures the report prints, and the report
lists every bar with its limit and value, so a failed run says which bar it missed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .stats import Stats


@dataclass(frozen=True)
class Bar:
    name: str
    limit: float
    value: float

    @property
    def ok(self) -> bool:
        return self.value <= self.limit

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def check_bars(stats: Stats, max_p99_ms: float | None, max_failed: int | None) -> list[Bar]:
    """The bars that were asked for, with this run's values (p99 of committed orders)."""
    bars = []
    if max_p99_ms is not None:
        bars.append(Bar("p99_latency_ms", max_p99_ms, stats.latency_ms["p99"]))
    if max_failed is not None:
        bars.append(Bar("failed_orders", max_failed, stats.failed))
    return bars
