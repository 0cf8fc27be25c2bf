"""What a campaign does: its options, the fault kinds, and the seeded list of trials.

The same ``--seed`` gives the same trials (kind, region, moment, duration) and the same orders,
so a campaign that found a loss can be run again to look at it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from order_contracts.regions import configured_regions, normalize_region

#: every fault kind, in the order the table shows them
FAULT_KINDS: tuple[str, ...] = (
    "kill",
    "freeze",
    "partition",
    "slow",
    "disk-full",
    "disk-loss",
    "routing-kill",
    "scheduler-kill",
)
#: faults that hit one node (the others hit the routing source or Airflow)
NODE_FAULTS = frozenset({"kill", "freeze", "partition", "slow", "disk-full", "disk-loss"})
#: faults only meaningful when orders go through Airflow
AIRFLOW_FAULTS = frozenset({"scheduler-kill"})

Target = Literal["nodes", "airflow"]
_RANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?))?\s*s?\s*$")


class UsageError(ValueError):
    """A flag that cannot be used; the message is the one line the CLI prints."""


def parse_faults(text: str) -> tuple[str, ...]:
    kinds = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    if not kinds:
        raise UsageError("--faults: name at least one fault kind")
    for kind in kinds:
        if kind not in FAULT_KINDS:
            raise UsageError(f"--faults: unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
    return tuple(dict.fromkeys(kinds))


def parse_range(flag: str, text: str) -> tuple[float, float]:
    """``4`` or ``2-6`` (seconds) → (low, high)."""
    match = _RANGE.match(text)
    if not match:
        raise UsageError(f"{flag} {text!r}: expected seconds like 4 or a range like 2-6")
    low = float(match.group(1))
    high = float(match.group(2)) if match.group(2) else low
    if low <= 0 or high < low:
        raise UsageError(f"{flag} {text!r}: needs 0 < low <= high")
    return low, high


@dataclass(frozen=True)
class Trial:
    index: int
    kind: str
    #: the node hit (None for routing-kill and scheduler-kill)
    region: str | None
    #: quiet seconds before the fault starts: the "random moment"
    lead_s: float
    #: how long the fault lasts
    duration_s: float


@dataclass(frozen=True)
class CampaignOptions:
    trials: int = 8
    seed: int = 1
    faults: tuple[str, ...] = ("kill", "freeze", "partition", "slow")
    target: Target = "nodes"
    rate: float = 60.0
    #: fault durations and the quiet time before each fault (seconds, low-high)
    window: tuple[float, float] = (2.0, 5.0)
    lead: tuple[float, float] = (1.0, 3.0)
    #: per-chunk latency of ``slow`` (seconds)
    slow_s: float = 0.5
    #: orders per DAG run through Airflow (1: one run per order)
    batch_size: int = 1
    invalid_ratio: float = 0.02
    #: a node request's timeout (the stress tool's --timeout)
    timeout: float = 10.0
    #: seconds to wait for a region to be routed to again after a fault ends
    recovery_timeout: float = 60.0
    #: tmpfs size per node's data directory when disk-full is asked for
    disk_size: str = "64m"
    state_dir: Path = Path(".chaos")
    report: Path | None = Path("chaos-report.json")
    plot: Path | None = None
    #: the checker's own test: disk-loss with replication off must report losses
    self_check: bool = False
    #: auto (when the node supports it), on or off
    replication: str = "auto"
    regions: tuple[str, ...] = field(default_factory=configured_regions)

    def validate(self) -> None:
        if self.trials < 1:
            raise UsageError(f"--trials {self.trials}: needs at least one trial")
        if not self.rate > 0:
            raise UsageError(f"--rate {self.rate:g}: must be more than zero orders per second")
        if self.batch_size < 1:
            raise UsageError(f"--batch-size {self.batch_size}: must be at least 1")
        if not 0 <= self.invalid_ratio <= 1:
            raise UsageError(f"--invalid-ratio {self.invalid_ratio:g}: must be between 0 and 1")
        if self.slow_s < 0:
            raise UsageError(f"--slow {self.slow_s:g}: cannot be negative")
        if self.target == "nodes":
            wrong = sorted(set(self.faults) & AIRFLOW_FAULTS)
            if wrong:
                raise UsageError(
                    f"--faults {','.join(wrong)}: needs --target airflow (no scheduler otherwise)"
                )
        if not re.fullmatch(r"\d+[kmg]", self.disk_size):
            raise UsageError(f"--disk-size {self.disk_size!r}: expected a size like 64m")


def plan_trials(options: CampaignOptions) -> list[Trial]:
    """Kinds in a seeded shuffle of the list, each round covering every kind once; region,
    moment and duration drawn from the same seed."""
    rng = random.Random(options.seed)
    kinds: list[str] = []
    while len(kinds) < options.trials:
        round_ = list(options.faults)
        rng.shuffle(round_)
        kinds.extend(round_)
    trials = []
    for index, kind in enumerate(kinds[: options.trials]):
        region = normalize_region(rng.choice(options.regions)) if kind in NODE_FAULTS else None
        trials.append(
            Trial(
                index=index,
                kind=kind,
                region=region,
                lead_s=round(rng.uniform(*options.lead), 2),
                duration_s=round(rng.uniform(*options.window), 2),
            )
        )
    return trials
