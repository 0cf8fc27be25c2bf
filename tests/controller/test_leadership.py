"""kopf's pause rule, read from the peering object by the repair loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controller.leadership import is_active

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def record(priority: int, seconds_ago: float = 1, lifetime: int = 30) -> dict[str, object]:
    lastseen = (NOW - timedelta(seconds=seconds_ago)).isoformat()
    return {"priority": priority, "lastseen": lastseen, "lifetime": lifetime}


def peering(**records: dict[str, object]) -> dict[str, object]:
    return {"metadata": {"name": "warehouse-controller"}, "status": records}


def test_should_lead_alone():
    assert is_active(peering(me=record(100)), 100, NOW)


def test_should_pause_for_a_live_higher_priority_peer():
    assert not is_active(peering(me=record(100), other=record(200)), 100, NOW)


def test_should_lead_over_a_lower_priority_peer():
    assert is_active(peering(me=record(200), other=record(100)), 200, NOW)


def test_should_pause_for_a_same_priority_peer_as_kopf_does():
    assert not is_active(peering(me=record(100), twin=record(100)), 100, NOW)


def test_should_ignore_a_peer_whose_lifetime_has_passed():
    crashed = record(900, seconds_ago=31, lifetime=30)
    assert is_active(peering(me=record(100), crashed=crashed), 100, NOW)


def test_should_not_lead_before_its_own_record_exists():
    assert not is_active(peering(), 100, NOW)


def test_should_not_lead_without_a_peering_object():
    assert not is_active(None, 100, NOW)
