"""The in-doubt benchmark's counting and bars (:mod:`benchmarks.in_doubt_resolution`).

Pure functions over what the run left behind (per-order DAG results, each order's home, what
every shard holds), kept apart from the stack, the load and the kill so the bar's numerator and
denominator can be tested without starting anything (``tests/unit/test_in_doubt_tally.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from order_contracts.outcomes import COMMITTED_STATUSES, PLACED_AT_HOME

AMBIGUOUS = "ambiguous"
BAR_RATIO = 0.9
MIN_IN_DOUBT = 10


@dataclass
class Tally:
    """The counts the bars are computed from (all from one run)."""

    region: str
    orders: int = 0  # orders whose home is the killed region
    statuses: Counter[str] = field(default_factory=Counter)
    in_doubt: int = 0
    in_doubt_replicated: int = 0
    placed_at_home: int = 0
    placed_at_home_replicated: int = 0
    acknowledged: int = 0
    acknowledged_once: int = 0
    lost: int = 0
    duplicated: int = 0
    rerouted_in_doubt: int = 0
    no_result: int = 0

    @property
    def ratio(self) -> float:
        return (
            self.placed_at_home_replicated / self.in_doubt_replicated
            if self.in_doubt_replicated
            else 0.0
        )


def tally(
    region: str,
    results: Mapping[str, Mapping[str, Any]],
    homes: Mapping[str, str],
    stored: Mapping[str, Iterable[str]],
) -> Tally:
    """Count what the bars need.

    ``results``: order id → its per-order DAG result; ``homes``: every sent order id → its home
    region; ``stored``: per shard the order ids it holds (for the killed region: its follower's
    copy), repeats kept.
    """
    where: dict[str, list[str]] = {}
    for shard, ids in stored.items():
        for order_id in ids:
            where.setdefault(order_id, []).append(shard)
    replica = {order_id for order_id, shards in where.items() if region in shards}
    out = Tally(region)
    out.duplicated = sum(1 for shards in where.values() if len(shards) > 1)
    for order_id, home in homes.items():
        result = results.get(order_id)
        status = str(result["status"]) if result else "no result"
        if result is None:
            out.no_result += 1
        if status in COMMITTED_STATUSES:
            out.acknowledged += 1
            copies = len(where.get(order_id, []))
            out.acknowledged_once += copies == 1
            out.lost += copies == 0
        if home != region:
            continue
        out.orders += 1
        out.statuses[status] += 1
        on_replica = order_id in replica
        if status in (PLACED_AT_HOME, AMBIGUOUS):
            out.in_doubt += 1
            out.in_doubt_replicated += on_replica
        if status == PLACED_AT_HOME:
            out.placed_at_home += 1
            out.placed_at_home_replicated += on_replica
        # it reached its home (the replica has it) yet was committed elsewhere: a reroute of an
        # order in doubt (it is a duplicate as well when the fallback stored it)
        if result and on_replica and str(result.get("assigned_node")) != region:
            out.rerouted_in_doubt += 1
    return out


def checks(t: Tally, home_down: bool) -> list[tuple[bool, str]]:
    enough = t.in_doubt_replicated >= MIN_IN_DOUBT
    return [
        (
            enough,
            f"in-doubt orders the home had replicated >= {MIN_IN_DOUBT}: {t.in_doubt_replicated}"
            + ("" if enough else " (too few for a ratio: raise --orders-per-run / --in-flight)"),
        ),
        (
            enough and t.ratio >= BAR_RATIO,
            f"placed_at_home / in-doubt on the replica >= {BAR_RATIO}: "
            f"{t.placed_at_home_replicated} / {t.in_doubt_replicated} = {t.ratio:.3f}",
        ),
        (
            t.lost == 0 and t.acknowledged_once == t.acknowledged,
            f"every acknowledged order stored exactly once: {t.acknowledged_once} of "
            f"{t.acknowledged} (lost {t.lost})",
        ),
        (t.duplicated == 0, f"0 duplicates (an order on two shards): {t.duplicated}"),
        (
            t.rerouted_in_doubt == 0,
            f"no in-doubt order rerouted to a fallback: {t.rerouted_in_doubt}",
        ),
        (home_down, f"{t.region} stayed down until every run had ended: {home_down}"),
    ]
