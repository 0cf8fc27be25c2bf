"""Turn the per-order results into the numbers of the report.

Percentiles are nearest-rank over the committed orders' latencies (what a customer waited for
an order that went through); failures are counted and grouped by cause instead of being mixed
into the latency figures.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .results import OrderResult

PERCENTILES = (50, 90, 99)


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values (0 when there are none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary(latencies_s: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max/mean in milliseconds."""
    values = sorted(latencies_s)
    summary = {f"p{p}": round(percentile(values, p) * 1000, 3) for p in PERCENTILES}
    summary["max"] = round(values[-1] * 1000, 3) if values else 0.0
    summary["mean"] = round(sum(values) / len(values) * 1000, 3) if values else 0.0
    return summary


@dataclass
class Stats:
    """Everything the report shows, computed once from the results."""

    orders: int
    valid: int
    invalid: int
    committed: int
    rejected: int
    failed: int
    succeeded: int
    invalid_rejected: int
    invalid_accepted: int
    accepted_by_airflow: int
    elapsed_s: float
    latency_ms: dict[str, float]
    accept_latency_ms: dict[str, float] | None
    per_warehouse: dict[str, int]
    per_home_region: dict[str, int]
    fallbacks: int
    fallback_routes: dict[str, int]
    errors: dict[str, int]
    invalid_by_kind: dict[str, dict[str, int]]
    timeline: list[dict[str, Any]] = field(default_factory=list)
    send_lag_ms: dict[str, float] = field(default_factory=dict)
    #: failed orders that may be stored all the same (:attr:`OrderResult.in_doubt`)
    in_doubt: int = 0
    #: per home region: sent, committed, rejected, failed, in_doubt, latency_ms
    by_home_region: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: per warehouse that committed orders: committed, fallback (of them), latency_ms
    by_warehouse: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def success_rate(self) -> float:
        return self.succeeded / self.orders if self.orders else 0.0

    @property
    def throughput(self) -> float:
        """Orders finished (any outcome) per second of the run."""
        return self.orders / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def committed_per_s(self) -> float:
        return self.committed / self.elapsed_s if self.elapsed_s > 0 else 0.0


def _timeline(results: Sequence[OrderResult], bucket_s: float) -> list[dict[str, Any]]:
    """Per-second buckets by finish time: what happened when (the demo shows fallback windows)."""
    buckets: dict[int, list[OrderResult]] = defaultdict(list)
    for result in results:
        buckets[int(result.finished // bucket_s)].append(result)
    timeline = []
    for index in sorted(buckets):
        items = buckets[index]
        committed = [r for r in items if r.outcome == "committed"]
        lat = sorted(r.latency for r in committed)
        timeline.append(
            {
                "t": round(index * bucket_s, 3),
                "committed": len(committed),
                "rejected": sum(r.outcome == "rejected" for r in items),
                "failed": sum(r.outcome == "failed" for r in items),
                "fallback": sum(r.fallback for r in committed),
                "p50_ms": round(percentile(lat, 50) * 1000, 3),
                "p99_ms": round(percentile(lat, 99) * 1000, 3),
                "per_warehouse": dict(Counter(r.warehouse for r in committed if r.warehouse)),
            }
        )
    return timeline


def _by_home_region(results: Sequence[OrderResult]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[OrderResult]] = defaultdict(list)
    for result in results:
        groups[result.home_region].append(result)
    return {region: outcome_figures(groups[region]) for region in sorted(groups)}


def outcome_figures(results: Sequence[OrderResult]) -> dict[str, Any]:
    """Sent, each outcome, in doubt and committed latency of some orders (a region, a stage)."""
    return {
        "sent": len(results),
        "committed": sum(r.outcome == "committed" for r in results),
        "rejected": sum(r.outcome == "rejected" for r in results),
        "failed": sum(r.outcome == "failed" for r in results),
        "in_doubt": sum(r.in_doubt for r in results),
        "latency_ms": latency_summary([r.latency for r in results if r.outcome == "committed"]),
    }


def _by_warehouse(committed: Sequence[OrderResult]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[OrderResult]] = defaultdict(list)
    for result in committed:
        if result.warehouse:
            groups[result.warehouse].append(result)
    return {
        warehouse: {
            "committed": len(groups[warehouse]),
            "fallback": sum(r.fallback for r in groups[warehouse]),
            "latency_ms": latency_summary([r.latency for r in groups[warehouse]]),
        }
        for warehouse in sorted(groups)
    }


def compute(
    results: Sequence[OrderResult], send_lags: Sequence[float] = (), bucket_s: float = 1.0
) -> Stats:
    committed = [r for r in results if r.outcome == "committed"]
    invalid = [r for r in results if not r.valid]
    elapsed = max((r.finished for r in results), default=0.0) - min(
        (r.intended for r in results), default=0.0
    )
    errors: Counter[str] = Counter()
    for r in results:
        if r.success:
            continue
        if not r.valid:
            errors[f"invalid order ({r.invalid_kind}) was {r.outcome}"] += 1
        else:
            errors[r.cause or r.outcome] += 1
    by_kind: dict[str, dict[str, int]] = defaultdict(lambda: {"sent": 0, "rejected": 0})
    for r in invalid:
        kind = by_kind[r.invalid_kind or "unknown"]
        kind["sent"] += 1
        kind["rejected"] += r.outcome == "rejected"
    accepted = [r for r in results if r.accepted_after is not None]
    routes = Counter(f"{r.home_region}->{r.warehouse}" for r in committed if r.fallback)
    return Stats(
        orders=len(results),
        valid=len(results) - len(invalid),
        invalid=len(invalid),
        committed=len(committed),
        rejected=sum(r.outcome == "rejected" for r in results),
        failed=sum(r.outcome == "failed" for r in results),
        succeeded=sum(r.success for r in results),
        invalid_rejected=sum(r.outcome == "rejected" for r in invalid),
        invalid_accepted=sum(r.outcome == "committed" for r in invalid),
        accepted_by_airflow=sum(r.accepted for r in results),
        elapsed_s=elapsed,
        latency_ms=latency_summary([r.latency for r in committed]),
        accept_latency_ms=(
            latency_summary([r.accepted_after or 0.0 for r in accepted]) if accepted else None
        ),
        per_warehouse=dict(sorted(Counter(r.warehouse for r in committed if r.warehouse).items())),
        per_home_region=dict(sorted(Counter(r.home_region for r in results).items())),
        fallbacks=sum(r.fallback for r in committed),
        fallback_routes=dict(sorted(routes.items())),
        errors=dict(errors.most_common()),
        invalid_by_kind=dict(sorted(by_kind.items())),
        timeline=_timeline(results, bucket_s),
        send_lag_ms=latency_summary(send_lags),
        in_doubt=sum(r.in_doubt for r in results),
        by_home_region=_by_home_region(results),
        by_warehouse=_by_warehouse(committed),
    )
