"""What one try of the process task reports: per-order results, and the orders that need a word.

The DAG turns a :class:`TryOutcome` into the task's return value (XCom) or its exception; kept
apart from :mod:`~order_workflow_lib.processing` so the report's shape (and its wording of each
problem, which operators read in the task log) is one place, whatever the delivery path.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from order_contracts.outcomes import Delivery
from order_contracts.run_summary import summarize

from .delivery import COMMITTED
from .intake import Intake, describe
from .progress import AMBIGUOUS, INVALID, OrderProgress, reroute_allowed

#: statuses after which nothing is left to do for the order and nothing went wrong
DONE_OK = COMMITTED
#: per-order results per task-log line in a batch (:meth:`TryOutcome.log_lines`)
RESULTS_PER_LOG_LINE = 200


@dataclass
class TryOutcome:
    """What one try ended with; the DAG turns it into return value or exception."""

    results: list[dict[str, Any]]
    #: orders a retry will send again (empty on the last try)
    pending: list[str] = field(default_factory=list)
    #: orders the nodes refused (409 conflict, other 4xx): reported, never retried
    rejected: list[str] = field(default_factory=list)
    #: orders that could not be delivered after the last try: the task fails
    undelivered: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(r["status"] for r in self.results))

    def xcom(self, mode: str) -> dict[str, Any]:
        """Counts and the orders that need a word, not every order (see run_summary)."""
        return summarize(mode, self.results, DONE_OK, Delivery.COMMITTED.value)

    def log_lines(self, per_line: int = RESULTS_PER_LOG_LINE) -> list[str]:
        """The per-order results as task-log messages: a JSON array of up to ``per_line``
        results each (one result: the object itself).

        Each log call in an Airflow task goes through the Task SDK's structlog pipeline and the
        supervisor's socket: 2,000 calls took ~2 s of a 2,000-order run on a loaded machine, 10
        calls a few milliseconds. Every order still appears in the log with all its fields, so
        grepping an order id finds its result.
        """
        if len(self.results) == 1:
            return [json.dumps(self.results[0], sort_keys=True)]
        return [
            json.dumps(self.results[i : i + per_line], sort_keys=True)
            for i in range(0, len(self.results), per_line)
        ]


def invalid_results(intake: Intake) -> list[dict[str, Any]]:
    """Ingest's rejections, in the same shape as delivered orders' results."""
    return [
        {
            "order_id": r["order_id"],
            "home_region": None,
            "assigned_node": None,
            "node_url": None,
            "fallback_used": False,
            "attempts": 0,
            "status": INVALID,
            "committed_at": None,
            "reason": "refused by ingest",
            "detail": describe(r),
        }
        for r in intake["rejected"]
    ]


def problem(progress: OrderProgress) -> str:
    """One line an operator can act on: the order, where it is, what the last answer was, and
    for an ``ambiguous`` order why it was not re-routed and how to resolve it."""
    last = progress["attempts"][-1] if progress["attempts"] else None
    where = progress["node"] or "no warehouse"
    what = (last["detail"] or f"HTTP {last['http_status']}") if last else progress["reason"]
    text = f"{progress['order_id']} ({progress['status']} on {where}): {what}"
    if progress["status"] == AMBIGUOUS:
        text += (
            f" — {reroute_allowed(progress)[1]}; clear the process task once {where} is back "
            "(re-sending there cannot duplicate it)"
        )
    return text
