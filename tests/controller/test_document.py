"""Deciding what to write: generation moves on every content change and only then."""

from __future__ import annotations

from datetime import UTC, datetime

from controller.document import describe_change, desired_document
from order_contracts.regions import parse_proximity
from order_contracts.routing import RegionObservation

PROXIMITY = parse_proximity("HCM=DN,HN;HN=DN,HCM;DN=HN,HCM")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def observe(**ready: int) -> list[RegionObservation]:
    return [RegionObservation(r, f"http://{r.lower()}:8000", n) for r, n in ready.items()]


def test_should_start_at_generation_one_without_a_configmap():
    document = desired_document(observe(HCM=1), PROXIMITY, None, now=T0)
    assert document is not None and document.generation == 1


def test_should_write_nothing_when_the_configmap_already_says_it():
    current = desired_document(observe(HCM=1, HN=1), PROXIMITY, None, now=T0)
    assert current is not None
    assert desired_document(observe(HCM=1, HN=1), PROXIMITY, current.to_json()) is None


def test_should_write_nothing_for_a_reformatted_but_equal_document():
    current = desired_document(observe(HCM=1), PROXIMITY, None, now=T0)
    assert current is not None
    pretty = current.model_dump_json(by_alias=True, indent=2)
    assert desired_document(observe(HCM=1), PROXIMITY, pretty) is None


def test_should_bump_the_generation_when_readiness_changes():
    current = desired_document(observe(HCM=1, DN=1), PROXIMITY, None, now=T0)
    assert current is not None
    changed = desired_document(observe(HCM=1, DN=0), PROXIMITY, current.to_json())
    assert changed is not None and changed.generation == 2


def test_should_continue_above_the_known_generation_after_the_configmap_is_deleted():
    document = desired_document(observe(HCM=1), PROXIMITY, None, known_generation=41)
    assert document is not None and document.generation == 42


def test_should_continue_above_the_generation_of_an_unreadable_document():
    broken = '{"generation": 9, "regions": "oops"}'
    document = desired_document(observe(HCM=1), PROXIMITY, broken)
    assert document is not None and document.generation == 10


def test_should_describe_each_regions_readiness_before_and_after():
    before = desired_document(observe(HCM=2, HN=1), PROXIMITY, None, now=T0)
    assert before is not None
    after = desired_document(observe(HCM=0, DN=1), PROXIMITY, before.to_json(), now=T0)
    assert after is not None
    assert describe_change(before, after) == (
        "routing generation 1 -> 2: DN absent -> ready(1); HCM ready(2) -> NOT READY(0); "
        "HN ready(1) -> absent"
    )


def test_should_describe_a_first_document_as_coming_from_none():
    after = desired_document(observe(HN=1), PROXIMITY, None, now=T0)
    assert after is not None
    assert describe_change(None, after) == "routing generation none -> 1: HN absent -> ready(1)"
