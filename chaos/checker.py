"""The checker: what each fault did to the orders, from facts recorded during the campaign.

Pure functions over three records: every order's fate as the load saw it
(:class:`~stress.results.OrderResult`), what the shards hold afterwards
(:class:`~stress.verify.Verification`, read from every node directly after recovery), and when
routing changed its mind about each region (the routing source's history). Times are seconds
since the load started.

Per fault (a *trial*):

* **detection** — fault start until routing marks the region not ready (None: it never did);
* **fallback** — fault start until an order of the region is committed on another warehouse;
* **unavailable** — the longest stretch, from the fault's start until the region is routed to
  again, in which no order of the region was committed anywhere;
* **recovery** — fault end until an order of the region sent after it is committed at home.

Orders are counted against the trial during which they were sent (from its quiet lead to the
next trial's). A lost order is blamed on the first fault after its acknowledgement that hit the
warehouse holding it (a lost disk takes what was stored before it), so a loss points at the
fault that caused it.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from stress.results import OrderResult
from stress.stats import percentile
from stress.verify import Verification


def in_doubt(result: OrderResult) -> bool:
    """Failed, and nothing proves the request did not reach a node (``OrderResult.in_doubt``,
    the stress report's rule too)."""
    return result.in_doubt


#: without a home commit after the fault, fallbacks up to this long after its end still count
FALLBACK_GRACE_S = 10.0


@dataclass(frozen=True)
class Transition:
    at: float
    region: str
    ready: bool


@dataclass
class TrialRecord:
    """One fault as it happened (times in load seconds)."""

    index: int
    kind: str
    region: str | None
    planned_s: float
    #: the quiet lead began (orders sent from here on count against this trial)
    lead_at: float
    start: float | None = None
    end: float | None = None
    status: str = "done"  # done | unsupported | error | interrupted
    note: str = ""
    #: the heal finished (a killed node is up again: its boot took ``healed - end``)
    healed: float | None = None
    #: the node had died during the fault and was started again by the heal
    node_restarted: bool = False


@dataclass
class TrialOutcome:
    record: TrialRecord
    orders: int = 0
    acknowledged: int = 0
    lost: int = 0
    duplicated: int = 0
    refused_but_stored: int = 0
    in_doubt: int = 0
    in_doubt_stored: int = 0
    in_doubt_not_stored: int = 0
    detection_s: float | None = None
    fallback_s: float | None = None
    routing_ready_s: float | None = None
    unavailable_s: float | None = None
    recovery_s: float | None = None
    samples: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        r = self.record
        return {
            "trial": r.index,
            "kind": r.kind,
            "region": r.region,
            "status": r.status,
            "note": r.note,
            "planned_s": r.planned_s,
            "start_s": _round(r.start),
            "end_s": _round(r.end),
            "heal_s": _round(None if r.healed is None or r.end is None else r.healed - r.end),
            "node_restarted_by_heal": r.node_restarted,
            "orders": self.orders,
            "acknowledged": self.acknowledged,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "refused_but_stored": self.refused_but_stored,
            "in_doubt": {
                "total": self.in_doubt,
                "ended_stored": self.in_doubt_stored,
                "ended_not_stored": self.in_doubt_not_stored,
            },
            "detection_s": _round(self.detection_s),
            "fallback_s": _round(self.fallback_s),
            "routing_ready_again_s": _round(self.routing_ready_s),
            "unavailable_s": _round(self.unavailable_s),
            "recovery_s": _round(self.recovery_s),
            "samples": self.samples,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def longest_gap(times: Sequence[float], start: float, until: float) -> float:
    """The longest stretch within [start, until] containing none of ``times`` (sorted)."""
    if until <= start:
        return 0.0
    lo = bisect.bisect_left(times, start)
    hi = bisect.bisect_right(times, until)
    points = [start, *times[lo:hi], until]
    return max(b - a for a, b in itertools.pairwise(points))


def _first(values: Iterable[float]) -> float | None:
    return min(values, default=None)


def measure(
    record: TrialRecord,
    sent: Sequence[OrderResult],
    all_results: Sequence[OrderResult],
    transitions: Sequence[Transition],
) -> TrialOutcome:
    """Timing of one trial. ``sent``: the orders counted against it."""
    outcome = TrialOutcome(record)
    outcome.orders = len(sent)
    if record.start is None or record.end is None:
        return outcome
    start, end = record.start, record.end
    region = record.region
    mine = [r for r in all_results if region is None or r.home_region == region]
    committed = sorted(r.finished for r in mine if r.outcome == "committed")
    if region is not None:
        mine_t = [t for t in transitions if t.region == region]
        down = _first(t.at for t in mine_t if not t.ready and t.at >= start)
        if down is not None and down <= end + 5.0:
            outcome.detection_s = down - start
            up = _first(t.at for t in mine_t if t.ready and t.at > down)
            outcome.routing_ready_s = None if up is None else max(0.0, up - end)
        home = _first(
            r.finished
            for r in mine
            if r.outcome == "committed" and r.warehouse == region and r.intended >= end
        )
        outcome.recovery_s = None if home is None else home - end
        # a fallback counts while this fault lasts, not one caused by a later fault
        bound = home if home is not None else end + FALLBACK_GRACE_S
        outcome.fallback_s = _first(
            r.finished - start
            for r in mine
            if r.outcome == "committed"
            and r.warehouse not in (None, region)
            and start <= r.finished <= bound
        )
        until = home if home is not None else (committed[-1] if committed else end)
    else:
        later = [t for t in committed if t >= end]
        until = later[0] if later else end
        outcome.recovery_s = None if not later else later[0] - end
    outcome.unavailable_s = longest_gap(committed, start, max(until, end))
    return outcome


def attribute(
    results: Sequence[OrderResult], records: Sequence[TrialRecord]
) -> list[list[OrderResult]]:
    """Each trial's orders: sent from its lead until the next trial's lead (the last trial
    keeps the tail; orders before the first trial go to it too)."""
    leads = [r.lead_at for r in records]
    buckets: list[list[OrderResult]] = [[] for _ in records]
    for result in results:
        index = max(0, bisect.bisect_right(leads, result.intended) - 1)
        buckets[index].append(result)
    return buckets


def blame_losses(
    results: Sequence[OrderResult], records: Sequence[TrialRecord], lost: set[str]
) -> dict[str, int]:
    """Which trial lost each lost order: the first fault, after the order was acknowledged,
    that hit the warehouse holding it (a lost disk loses what was stored before); failing
    that, the trial it was sent in. ``order id → trial index``."""
    sent_in = {
        r.order_id: index
        for index, bucket in enumerate(attribute(results, records))
        for r in bucket
    }
    blamed = {}
    for r in results:
        if r.order_id not in lost:
            continue
        hit = [
            rec.index
            for rec in records
            if rec.start is not None and rec.start >= r.finished and rec.region == r.warehouse
        ]
        blamed[r.order_id] = hit[0] if hit else sent_in[r.order_id]
    return blamed


def check_trials(
    results: Sequence[OrderResult],
    records: Sequence[TrialRecord],
    transitions: Sequence[Transition],
    verification: Verification,
) -> list[TrialOutcome]:
    lost, duplicated = set(verification.lost), set(verification.duplicated)
    refused_stored = set(verification.refused_but_stored)
    stored_failed = set(verification.unacknowledged_stored)
    blamed = blame_losses(results, records, lost)
    by_id = {r.order_id: r for r in results}
    outcomes = []
    for record, sent in zip(records, attribute(results, records), strict=True):
        lost_here = [oid for oid, index in blamed.items() if index == record.index]
        outcome = measure(record, sent, results, transitions)
        doubt = [r for r in sent if in_doubt(r)]
        outcome.acknowledged = sum(r.outcome == "committed" for r in sent)
        outcome.lost = len(lost_here)
        outcome.duplicated = sum(r.order_id in duplicated for r in sent)
        outcome.refused_but_stored = sum(r.order_id in refused_stored for r in sent)
        outcome.in_doubt = len(doubt)
        outcome.in_doubt_stored = sum(r.order_id in stored_failed for r in doubt)
        outcome.in_doubt_not_stored = outcome.in_doubt - outcome.in_doubt_stored
        outcome.samples = {
            "lost": sorted(lost_here, key=lambda oid: by_id[oid].index)[:10],
            "duplicated": [r.order_id for r in sent if r.order_id in duplicated][:10],
            "in_doubt": [f"{r.order_id}: {r.cause}" for r in doubt][:5],
        }
        outcomes.append(outcome)
    return outcomes


def _stat(values: Sequence[float | None], how: str) -> float | None:
    present = sorted(v for v in values if v is not None)
    if not present:
        return None
    if how == "max":
        return round(present[-1], 3)
    return round(percentile(present, 50), 3)


def summarize(outcomes: Sequence[TrialOutcome], kinds: Sequence[str]) -> list[dict[str, Any]]:
    """One row per fault kind (in ``kinds`` order) for the table and the JSON report."""
    rows = []
    for kind in kinds:
        mine = [o for o in outcomes if o.record.kind == kind]
        if not mine:
            continue
        ran = [o for o in mine if o.record.status == "done"]
        statuses = Counter(o.record.status for o in mine)
        rows.append(
            {
                "kind": kind,
                "trials": len(mine),
                "statuses": dict(statuses),
                "acknowledged": sum(o.acknowledged for o in mine),
                "lost": sum(o.lost for o in mine),
                "duplicated": sum(o.duplicated for o in mine),
                "refused_but_stored": sum(o.refused_but_stored for o in mine),
                "in_doubt": sum(o.in_doubt for o in mine),
                "in_doubt_stored": sum(o.in_doubt_stored for o in mine),
                "in_doubt_not_stored": sum(o.in_doubt_not_stored for o in mine),
                "detected": sum(o.detection_s is not None for o in ran),
                "detection_s_max": _stat([o.detection_s for o in ran], "max"),
                "fallback_s_max": _stat([o.fallback_s for o in ran], "max"),
                "unavailable_s_p50": _stat([o.unavailable_s for o in ran], "p50"),
                "unavailable_s_max": _stat([o.unavailable_s for o in ran], "max"),
                "recovery_s_max": _stat([o.recovery_s for o in ran], "max"),
            }
        )
    return rows
