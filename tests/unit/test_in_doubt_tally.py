"""The in-doubt benchmark's counting (benchmarks.in_doubt_tally.tally): what goes into the
bar's numerator and denominator, and what counts as lost, duplicated or rerouted."""

from __future__ import annotations

from typing import Any

from benchmarks.in_doubt_tally import checks, tally


def result(status: str, node: str) -> dict[str, Any]:
    return {"status": status, "assigned_node": node}


def test_ratio_counts_only_in_doubt_orders_the_replica_holds() -> None:
    homes = {"a": "HN", "b": "HN", "c": "HN", "d": "HN", "e": "HCM"}
    results = {
        "a": result("placed_at_home", "HN"),  # settled from the follower
        "b": result("ambiguous", "HN"),  # replicated yet unresolved: counts against
        "c": result("ambiguous", "HN"),  # never reached the replica: not in the denominator
        "d": result("committed", "HN"),  # acknowledged before the kill: not in doubt
        "e": result("committed", "HCM"),
    }
    stored = {"HN": ["a", "b", "d"], "HCM": ["e"], "DN": []}
    t = tally("HN", results, homes, stored)
    assert (t.in_doubt, t.in_doubt_replicated, t.placed_at_home_replicated) == (3, 2, 1)
    assert t.ratio == 0.5
    assert (t.acknowledged, t.acknowledged_once, t.lost, t.duplicated) == (3, 3, 0, 0)
    assert t.rerouted_in_doubt == 0
    ok = dict((text.split(":")[0], passed) for passed, text in checks(t, home_down=True))
    assert not ok["placed_at_home / in-doubt on the replica >= 0.9"]
    assert not ok["in-doubt orders the home had replicated >= 10"]  # 2 is too few for a ratio


def test_an_order_on_the_replica_and_a_fallback_is_a_duplicate_and_a_reroute() -> None:
    homes = {"a": "HN", "b": "HN", "c": "DN"}
    results = {
        "a": result("committed", "DN"),  # the home had it, yet it went to the fallback
        "b": result("committed", "HN"),  # acknowledged, but nowhere to be found: lost
        "c": result("failed", "DN"),  # not acknowledged: not counted as lost
    }
    stored = {"HN": ["a"], "DN": ["a"], "HCM": []}
    t = tally("HN", results, homes, stored)
    assert (t.duplicated, t.rerouted_in_doubt, t.lost) == (1, 1, 1)
    assert t.acknowledged == 2 and t.acknowledged_once == 0
    assert all(not passed for passed, text in checks(t, home_down=True) if "once" in text)
