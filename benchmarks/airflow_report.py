"""The Airflow throughput benchmark's phases and its report: the table, the ratios against the
floor, the bars of issues 4 and 12, and the exactly-once check (``benchmarks.airflow_throughput``
measures; this module judges and prints)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from localmode.airflow_settings import AirflowSettings

PER_ORDER_BAR, BATCH_BAR, BULK_BAR = 0.8, 40.0, 1000.0


@dataclass
class Phase:
    name: str
    runs: int
    orders: int
    seconds: float
    latencies: list[float]
    failed_runs: int
    #: seconds each run's tasks spent running (start → end, summed over the 3 tasks)
    task_seconds: list[float] = field(default_factory=list)

    @classmethod
    def merge(cls, name: str, parts: list[Phase]) -> Phase:
        return cls(
            name,
            sum(p.runs for p in parts),
            sum(p.orders for p in parts),
            sum(p.seconds for p in parts),
            [latency for p in parts for latency in p.latencies],
            sum(p.failed_runs for p in parts),
            [seconds for p in parts for seconds in p.task_seconds],
        )

    @property
    def rate(self) -> float:
        return self.orders / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def summary(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "orders": self.orders,
            "failed_runs": self.failed_runs,
            "seconds": round(self.seconds, 2),
            "per_second": round(self.rate, 2),
            "latency_p50_s": round(self.percentile(0.5), 3),
            "latency_p99_s": round(self.percentile(0.99), 3),
            "latency_mean_s": round(statistics.fmean(self.latencies or [0.0]), 3),
            "task_seconds_per_run": round(statistics.fmean(self.task_seconds or [0.0]), 3),
        }


def report(phases: dict[str, Phase], settings: AirflowSettings, stored: tuple[int, int]) -> dict:
    """Bars: issue 4's on the first batch size; issue 12's (>= 1,000 committed orders/s through
    Airflow, every order stored exactly once) on batches of 500 or more, when there are any."""
    floor, per_order = phases["floor"], phases["per-order"]
    batches = [p for name, p in phases.items() if name.startswith("batch of ")]
    batch = batches[0]
    ratio_floor = per_order.rate / floor.rate if floor.rate else 0.0
    ratio_batch = batch.rate / per_order.rate if per_order.rate else 0.0
    print(
        f"\n{'phase':<16}{'runs':>6}{'orders':>8}{'/s':>9}{'p50 s':>9}{'p99 s':>9}"
        f"{'task s/run':>12}{'failed':>8}"
    )
    for phase in phases.values():
        s = phase.summary()
        print(
            f"{phase.name:<16}{s['runs']:>6}{s['orders']:>8}{s['per_second']:>9.2f}"
            f"{s['latency_p50_s']:>9.2f}{s['latency_p99_s']:>9.2f}"
            f"{s['task_seconds_per_run']:>12.2f}{s['failed_runs']:>8}"
        )
    verdict_floor = "PASS" if ratio_floor >= PER_ORDER_BAR else "FAIL"
    verdict_batch = "PASS" if ratio_batch >= BATCH_BAR else "FAIL"
    print(f"\nper-order / floor = {ratio_floor:.2f} (bar >= {PER_ORDER_BAR}) {verdict_floor}")
    print(f"batch / per-order = {ratio_batch:.1f} (bar >= {BATCH_BAR:g}) {verdict_batch}")
    sent = sum(p.orders for p in phases.values() if p.name != "floor")
    exactly_once = stored[0] == stored[1] == sent
    print(
        f"orders on the nodes: {stored[0]} stored, {stored[1]} distinct, {sent} committed by"
        f" successful runs (warm-up included): {'PASS' if exactly_once else 'FAIL'} exactly once"
    )
    bulk_ok = True
    for phase in batches:
        size = int(phase.name.removeprefix("batch of "))
        over_floor = phase.rate / floor.rate if floor.rate else 0.0
        line = f"{phase.name}: {phase.rate:.1f} orders/s = {over_floor:.0f} x floor runs/s"
        if size >= 500:
            passed = phase.rate >= BULK_BAR and phase.failed_runs == 0
            bulk_ok &= passed
            line += f" (bar >= {BULK_BAR:g} orders/s) {'PASS' if passed else 'FAIL'}"
        print(line)
    return {
        "settings": settings.__dict__,
        "phases": {name: phase.summary() for name, phase in phases.items()},
        "per_order_over_floor": round(ratio_floor, 3),
        "batch_over_per_order": round(ratio_batch, 2),
        "bars": {"per_order_over_floor": PER_ORDER_BAR, "batch_over_per_order": BATCH_BAR},
        "batch_over_floor": {
            p.name: round(p.rate / floor.rate, 1) if floor.rate else 0.0 for p in batches
        },
        "passed": verdict_floor == verdict_batch == "PASS" and bulk_ok and exactly_once,
        "sent_orders": sent,
        "stored_orders": stored[0],
        "distinct_orders": stored[1],
    }
