"""What happened to each order, and the live counters the progress bar reads.

Times are seconds since the run started (``time.monotonic`` based; CLOCK_MONOTONIC is shared by
all processes of the machine, so worker processes' times line up with the parent's).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from .orders import GeneratedOrder

Outcome = Literal["committed", "rejected", "failed"]

#: failure causes that prove the order never reached a node (so it cannot be stored)
NOT_SENT = ("unreachable", "no warehouse available", "refused with", "Airflow refused the run")


@dataclass(slots=True)
class OrderResult:
    """One order's fate.

    ``intended`` is when the engine meant to send it (open loop: its slot in the arrival
    schedule), so ``latency`` includes any time it waited because the system was slow.
    ``accepted`` is Airflow's side (the trigger was accepted); ``outcome`` is the warehouse's.
    """

    index: int
    order_id: str
    home_region: str
    valid: bool
    invalid_kind: str | None
    intended: float
    finished: float
    outcome: Outcome
    warehouse: str | None = None
    fallback: bool = False
    attempts: int = 1
    cause: str | None = None
    accepted: bool = True
    accepted_after: float | None = None
    dag_run_id: str | None = None

    @property
    def latency(self) -> float:
        return self.finished - self.intended

    @property
    def success(self) -> bool:
        """Valid orders must be committed; invalid ones must be refused."""
        if self.valid:
            return self.outcome == "committed"
        return self.outcome == "rejected"

    @property
    def in_doubt(self) -> bool:
        """Failed, and nothing proves the request did not reach a node: it may be stored."""
        if self.outcome != "failed":
            return False
        cause = self.cause or ""
        return not any(marker in cause for marker in NOT_SENT)

    @classmethod
    def of(
        cls, order: GeneratedOrder, intended: float, finished: float, outcome: Outcome, **kw: Any
    ) -> OrderResult:
        return cls(
            index=order.index,
            order_id=order.order_id,
            home_region=order.region,
            valid=order.valid,
            invalid_kind=order.invalid_kind,
            intended=intended,
            finished=finished,
            outcome=outcome,
            **kw,
        )


@dataclass
class Recorder:
    """Collects results and keeps the counters the progress bar shows."""

    t0: float = field(default_factory=time.monotonic)
    started_at: float = field(default_factory=time.time)
    results: list[OrderResult] = field(default_factory=list)
    #: how late each unit left compared with its intended time: the tool keeping up, or not
    send_lags: list[float] = field(default_factory=list)
    #: set to stop sending (Ctrl-C): orders in flight finish, the report covers what was sent
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    sent: int = 0
    committed: int = 0
    rejected: int = 0
    failed: int = 0

    def now(self) -> float:
        return time.monotonic() - self.t0

    def record(self, results: Iterable[OrderResult]) -> None:
        for result in results:
            self.results.append(result)
            if result.outcome == "committed":
                self.committed += 1
            elif result.outcome == "rejected":
                self.rejected += 1
            else:
                self.failed += 1

    @property
    def done(self) -> int:
        return self.committed + self.rejected + self.failed
