"""What one stress run does, and the parsers that turn flag text into it.

Every parser raises :class:`ValueError` with a message in the user's terms (the CLI prints it as
a one-line usage error), so a typo such as ``--rate 20/x`` never turns into a stack trace.
"""

from __future__ import annotations

import math
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from order_contracts import envvars, labels
from order_contracts.regions import configured_regions, normalize_region

Target = Literal["airflow", "nodes"]

#: the DAG the Airflow target triggers
DAG_ID = labels.DAG_ID
#: the DAG task whose XCom holds the per-order results
PROCESS_TASK_ID = "process"

#: the open loop's minimum number of senders (and node connections)
OPEN_LOOP_SENDERS = 64

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute))?\s*$")
_ZERO_RATE = re.compile(r"^\s*0+(?:\.0*)?\s*(?:/\s*(s|sec|second|m|min|minute))?\s*$")


def parse_duration(text: str) -> float:
    """``30``, ``30s``, ``2m``, ``1h``, ``500ms`` → seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"--duration {text!r}: expected seconds like 30, 30s, 2m or 1h")
    value = float(match.group(1))
    scale = {"ms": 0.001, "s": 1.0, None: 1.0, "m": 60.0, "h": 3600.0}[match.group(2)]
    if value <= 0:
        raise ValueError(f"--duration {text!r}: must be more than zero")
    return value * scale


def parse_rate(text: str) -> float:
    """``200``, ``200/s``, ``600/m`` → orders per second."""
    match = _RATE.match(text)
    if not match:
        raise ValueError(f"--rate {text!r}: expected orders per second like 200 or 200/s or 600/m")
    value = float(match.group(1))
    if value <= 0:
        raise ValueError(f"--rate {text!r}: must be more than zero")
    per_minute = match.group(2) in {"m", "min", "minute"}
    return value / 60.0 if per_minute else value


@dataclass(frozen=True)
class Stage:
    """One step of ``--stages`` (:mod:`stress.stages`): a rate held for a duration."""

    duration_s: float
    #: orders per second offered during the stage (0: a pause)
    rate: float

    @property
    def orders(self) -> int:
        return round(self.rate * self.duration_s)


def parse_stages(text: str) -> tuple[Stage, ...]:
    """``10s:100,30s:500/s,10s:0`` → stages; a ValueError names the bad stage by its number."""
    stages = []
    parts = [part.strip() for part in text.split(",")]
    for number, part in enumerate(parts, start=1):
        where = f"--stages {part!r} (stage {number})"
        duration, sep, rate = part.partition(":")
        if not sep:
            raise ValueError(f"{where}: expected DURATION:RATE, e.g. 30s:500")
        try:
            seconds = parse_duration(duration)
        except ValueError:
            raise ValueError(
                f"{where}: {duration.strip()!r} is not a duration like 30s or 2m"
            ) from None
        if _ZERO_RATE.match(rate):
            per_s = 0.0
        else:
            try:
                per_s = parse_rate(rate)
            except ValueError:
                raise ValueError(
                    f"{where}: {rate.strip()!r} is not a rate like 500, 500/s or 600/m (0: pause)"
                ) from None
        stages.append(Stage(seconds, per_s))
    if not any(stage.orders for stage in stages):
        raise ValueError(f"--stages {text!r}: no stage sends an order")
    return tuple(stages)


def total_orders(stages: Sequence[Stage]) -> int:
    return sum(stage.orders for stage in stages)


def parse_region_mix(text: str | None, known: tuple[str, ...] | None = None) -> dict[str, float]:
    """``HCM=0.5,HN=0.3,DN=0.2`` → normalised weights; empty means every region equally.

    Weights need not add up to one (``HCM=5,HN=3,DN=2`` is the same mix); a region the system
    does not know is refused here rather than producing thousands of rejected orders.
    """
    regions = known or configured_regions()
    if text is None or not text.strip():
        return {region: 1.0 / len(regions) for region in regions}
    weights: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        region = normalize_region(name)
        if not sep:
            raise ValueError(f"--regions {part.strip()!r}: expected REGION=WEIGHT, e.g. HCM=0.5")
        if region not in regions:
            raise ValueError(
                f"--regions: unknown region {region!r}; expected some of {', '.join(regions)}"
            )
        try:
            weight = float(value)
        except ValueError:
            raise ValueError(
                f"--regions {part.strip()!r}: {value.strip()!r} is not a number"
            ) from None
        if weight < 0 or weight != weight:
            raise ValueError(f"--regions {part.strip()!r}: a weight cannot be negative")
        weights[region] = weights.get(region, 0.0) + weight
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("--regions: at least one region needs a positive weight")
    return {region: weight / total for region, weight in weights.items() if weight > 0}


def new_run_id() -> str:
    """A short id that prefixes every order id of the run, so runs never collide on a node."""
    return f"st{secrets.token_hex(4)}"


@dataclass(frozen=True)
class StressConfig:
    """One run. Defaults are the original report's (1000 orders, 10 at a time, via Airflow)."""

    target: Target = "airflow"
    orders: int | None = 1000
    concurrency: int = 10
    rate: float | None = None
    duration: float | None = None
    #: open loop in steps of rates (``--stages``); exclusive with ``rate`` / ``duration``
    stages: tuple[Stage, ...] | None = None
    #: orders in flight at most per node (per home region); None: each region's share of
    #: the total (``senders``), rounded up (:meth:`lane_limits`)
    in_flight_per_node: int | None = None
    batch_size: int = 1
    #: nodes target: orders per POST /orders (1: one POST /order each)
    bulk: int = 1
    region_mix: dict[str, float] = field(default_factory=lambda: parse_region_mix(None))
    invalid_ratio: float = 0.0
    seed: int = 0
    run_id: str = field(default_factory=new_run_id)
    endpoint: str = "http://localhost:8080"
    airflow_user: str = "admin"
    airflow_password: str = "admin"  # noqa: S105 - the local mode's documented login
    node_token: str | None = None
    routing: str | None = None
    timeout: float = 10.0
    run_timeout: float = 600.0
    health_ttl: float = 1.0
    max_attempts: int = 3
    verify: bool = False
    min_success: float = 0.99
    #: more bars (``stress.thresholds``): p99 latency of committed orders, failed orders
    max_p99_ms: float | None = None
    max_failed: int | None = None
    report: Path | None = None
    #: per-order results as CSV (one row per order sent)
    csv: Path | None = None
    plot: Path | None = None
    #: one self-contained HTML file: tables, verdicts and the plots inline (stress.html_report)
    html: Path | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.stages is not None and (self.rate is not None or self.duration is not None):
            raise ValueError("--stages sets the rate and the duration: drop --rate / --duration")

    @property
    def report_to_stdout(self) -> bool:
        """``--report -``: the JSON alone on stdout, the tables on stderr (a Job's log outlives its
        files, and a pipe into a JSON parser gets only the JSON)."""
        return self.report is not None and str(self.report) == "-"

    @property
    def senders(self) -> int:
        """Orders (or batches) in flight at most: ``concurrency``; in the open loop at least 64,
        so a short stall of the server does not stall the schedule behind it."""
        if self.mode == "closed":
            return self.concurrency
        return max(self.concurrency, OPEN_LOOP_SENDERS)

    def lane_limits(self) -> dict[str, int] | None:
        """Per home region, how many of its orders may be in flight at once (per-node limits:
        a stalled node then holds its own region's slots only, :mod:`stress.engine`).

        Only the nodes target sending order by order has lanes: a bulk request or an Airflow
        batch mixes regions in one unit. By default each region gets its share of ``senders``
        rounded up, so the mix keeps its proportions in flight and the total stays about what
        ``--concurrency`` says (the engine caps it there exactly).
        """
        if self.target != "nodes" or self.unit_size != 1:
            return None
        total = self.senders
        if self.in_flight_per_node is not None:
            return {region: min(total, self.in_flight_per_node) for region in self.region_mix}
        return {
            region: max(1, math.ceil(total * share - 1e-9))
            for region, share in self.region_mix.items()
        }

    @property
    def unit_size(self) -> int:
        """Orders sent together: a DAG run's batch (Airflow) or a bulk request (nodes)."""
        return self.batch_size if self.target == "airflow" else self.bulk

    @property
    def mode(self) -> Literal["open", "closed"]:
        return "open" if self.rate is not None or self.stages is not None else "closed"

    def planned_orders(self) -> int | None:
        """How many orders the run sends, or None when only ``duration`` bounds it."""
        if self.stages is not None:
            by_stages = total_orders(self.stages)
            return min(by_stages, self.orders) if self.orders is not None else by_stages
        if self.rate is not None and self.duration is not None:
            by_time = max(1, round(self.rate * self.duration))
            return min(by_time, self.orders) if self.orders is not None else by_time
        return self.orders

    def describe(self) -> dict[str, object]:
        """The settings worth keeping in the JSON report (no secrets)."""
        return {
            "target": self.target,
            "mode": self.mode,
            "orders": self.planned_orders(),
            "concurrency": self.concurrency,
            "rate_per_s": self.rate,
            "duration_s": self.duration,
            "stages": (
                [{"duration_s": st.duration_s, "rate_per_s": st.rate} for st in self.stages]
                if self.stages is not None
                else None
            ),
            "in_flight_per_node": self.lane_limits(),
            "batch_size": self.batch_size,
            "bulk": self.bulk,
            "regions": self.region_mix,
            "invalid_ratio": self.invalid_ratio,
            "seed": self.seed,
            "run_id": self.run_id,
            "endpoint": self.endpoint if self.target == "airflow" else None,
            "routing": self.routing or os.environ.get(envvars.ORDER_ROUTING_SOURCE),
            "min_success": self.min_success,
            "max_p99_ms": self.max_p99_ms,
            "max_failed": self.max_failed,
        }
