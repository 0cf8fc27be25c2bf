"""The checker's arithmetic on hand-made facts: it must be able to say "lost", "twice", "late"."""

from __future__ import annotations

from chaos.checker import (
    Transition,
    TrialRecord,
    check_trials,
    in_doubt,
    longest_gap,
    summarize,
)
from stress.results import OrderResult
from stress.verify import Verification


def result(
    index: int,
    at: float,
    outcome: str = "committed",
    region: str = "HCM",
    warehouse: str | None = "HCM",
    cause: str | None = None,
) -> OrderResult:
    return OrderResult(
        index=index,
        order_id=f"o-{index}",
        home_region=region,
        valid=True,
        invalid_kind=None,
        intended=at,
        finished=at + 0.01,
        outcome=outcome,  # type: ignore[arg-type]
        warehouse=warehouse if outcome == "committed" else None,
        cause=cause,
    )


def verification(**lists: list[str]) -> Verification:
    return Verification(stored_per_node={}, unreadable={}, acknowledged=0, found_once=0, **lists)


def test_longest_gap_counts_the_edges() -> None:
    assert longest_gap([1.0, 2.0, 6.0], 0.5, 7.0) == 4.0
    assert longest_gap([], 1.0, 3.5) == 2.5
    assert longest_gap([5.0], 1.0, 3.0) == 2.0  # points outside the window do not count


def test_in_doubt_only_when_the_request_may_have_arrived() -> None:
    lost_answer = result(1, 0, "failed", cause="HCM: answer lost after sending (TimeoutError)")
    refused = result(2, 0, "failed", cause="HCM unreachable")
    assert in_doubt(lost_answer)
    assert not in_doubt(refused)
    assert not in_doubt(result(3, 0))


def test_a_freeze_is_timed_and_its_losses_are_attributed_to_it() -> None:
    # HCM frozen from 10 to 14: detected at 11.2, fallback to DN from 12, home again at 14.5
    results = [result(i, i * 0.5) for i in range(20)]  # 0 .. 9.5 at home
    results += [result(100 + i, 12 + i * 0.5, warehouse="DN") for i in range(4)]  # 12 .. 13.5
    results += [result(200 + i, 14.5 + i * 0.5) for i in range(4)]  # home again
    results.append(result(300, 10.5, "failed", cause="HCM: answer lost after sending (Timeout)"))
    results.append(result(301, 10.6, "failed", cause="HCM: answer lost after sending (Timeout)"))
    records = [
        TrialRecord(0, "kill", "HN", 1.0, lead_at=0.0, start=1.0, end=2.0),
        TrialRecord(1, "freeze", "HCM", 4.0, lead_at=9.0, start=10.0, end=14.0),
    ]
    transitions = [
        Transition(11.2, "HCM", False),
        Transition(14.3, "HCM", True),
    ]
    checked = verification(lost=["o-101"], duplicated=["o-201"], unacknowledged_stored=["o-300"])
    _, freeze = check_trials(results, records, transitions, checked)
    assert freeze.detection_s is not None and abs(freeze.detection_s - 1.2) < 1e-9
    assert freeze.fallback_s is not None and abs(freeze.fallback_s - 2.01) < 1e-9
    assert freeze.routing_ready_s is not None and abs(freeze.routing_ready_s - 0.3) < 1e-9
    assert freeze.recovery_s is not None and abs(freeze.recovery_s - 0.51) < 1e-9
    # the last home commit before the fault is at 9.51, the first fallback commit at 12.01
    assert freeze.unavailable_s is not None and abs(freeze.unavailable_s - 2.01) < 1e-9
    assert (freeze.lost, freeze.duplicated) == (1, 1)
    assert (freeze.in_doubt, freeze.in_doubt_stored, freeze.in_doubt_not_stored) == (2, 1, 1)
    (_, row) = summarize(check_trials(results, records, transitions, checked), ["kill", "freeze"])
    assert row["kind"] == "freeze" and row["lost"] == 1 and row["duplicated"] == 1


def test_a_fault_routing_never_noticed_has_no_detection_time() -> None:
    results = [result(i, i * 0.2) for i in range(50)]
    records = [TrialRecord(0, "slow", "HCM", 2.0, lead_at=0.0, start=3.0, end=5.0)]
    (outcome,) = check_trials(results, records, [], verification())
    assert outcome.detection_s is None
    assert outcome.fallback_s is None
    assert outcome.unavailable_s is not None and outcome.unavailable_s < 0.25


def test_orders_a_lost_disk_took_are_blamed_on_the_disk_loss() -> None:
    # HCM orders acknowledged during a kill of HN (0..10) are lost when HCM's disk goes at 20
    results = [result(i, i * 0.5) for i in range(20)]
    records = [
        TrialRecord(0, "kill", "HN", 2.0, lead_at=0.0, start=2.0, end=4.0),
        TrialRecord(1, "disk-loss", "HCM", 2.0, lead_at=15.0, start=20.0, end=22.0),
    ]
    lost = [f"o-{i}" for i in range(20)]
    kill, disk_loss = check_trials(results, records, [], verification(lost=lost))
    assert (kill.lost, disk_loss.lost) == (0, 20)
    assert disk_loss.samples["lost"][:2] == ["o-0", "o-1"]


def test_a_fallback_caused_by_a_later_fault_is_not_counted_for_an_earlier_one() -> None:
    # HCM slowed 2..4 (never left home: home commits go on), then frozen 20..24 (fallback at 22)
    results = [result(i, i * 0.5) for i in range(40)]  # home 0 .. 19.5
    results += [result(100 + i, 22 + i * 0.5, warehouse="DN") for i in range(4)]
    records = [
        TrialRecord(0, "slow", "HCM", 2.0, lead_at=0.0, start=2.0, end=4.0),
        TrialRecord(1, "freeze", "HCM", 4.0, lead_at=19.0, start=20.0, end=24.0),
    ]
    slow, freeze = check_trials(results, records, [], verification())
    assert slow.fallback_s is None  # the DN commits at 22+ belong to the freeze
    assert freeze.fallback_s is not None and abs(freeze.fallback_s - 2.01) < 1e-9
