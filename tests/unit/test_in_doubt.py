"""The in-doubt rule: a follower that has the order settles it as placed at home."""

from __future__ import annotations

from order_contracts.in_doubt import Lookup, lookup_from_status, resolve_in_doubt
from order_contracts.routing import RegionObservation, RoutingDocument, build_routing_document

A, B = "http://follower-a:8000", "http://follower-b:8000"


def answers(said: dict[str, Lookup], asked: list[str]):  # type: ignore[no-untyped-def]
    def lookup(url: str, order_id: str) -> Lookup:
        asked.append(url)
        return said[url]

    return lookup


def test_should_place_an_order_a_follower_has_at_home_and_ask_no_further():
    asked: list[str] = []
    verdict = resolve_in_doubt(
        "o-1", "HN", [A, B], answers({A: Lookup.UNKNOWN, B: Lookup.FOUND}, asked)
    )
    assert verdict.placed_at_home and verdict.follower == B
    assert "placed at home" in verdict.reason and asked == [A, B]

    asked.clear()
    verdict = resolve_in_doubt("o-1", "HN", [A, B], answers({A: Lookup.FOUND}, asked))
    assert verdict.follower == A and asked == [A]


def test_should_keep_an_order_no_follower_has_in_doubt():
    verdict = resolve_in_doubt(
        "o-2", "HN", [A, B], answers({A: Lookup.ABSENT, B: Lookup.UNKNOWN}, [])
    )
    assert not verdict.placed_at_home and verdict.follower is None
    assert f"{A} absent; {B} unknown" in verdict.reason
    assert "not re-routed" in verdict.reason


def test_should_keep_an_order_in_doubt_when_the_region_has_no_follower():
    verdict = resolve_in_doubt("o-3", "HN", [], answers({}, []))
    assert not verdict.placed_at_home and "HN has no serving follower" in verdict.reason


def test_should_count_only_200_as_found_and_only_404_as_absent():
    assert lookup_from_status(200) is Lookup.FOUND
    assert lookup_from_status(404) is Lookup.ABSENT
    assert {lookup_from_status(s) for s in (None, 421, 500, 503)} == {Lookup.UNKNOWN}


def test_should_carry_read_urls_in_the_document_and_read_documents_without_them():
    document = build_routing_document(
        [RegionObservation("HN", "http://hn:8000", 1, (A,))], {"HN": []}
    )
    parsed = RoutingDocument.from_json(document.to_json())
    assert parsed.regions["HN"].read_urls == [A]
    assert '"readUrls":["http://follower-a:8000"]' in document.to_json()

    old = document.to_json().replace(',"readUrls":["http://follower-a:8000"]', "")
    assert "readUrls" not in old
    assert RoutingDocument.from_json(old).regions["HN"].read_urls == []


def test_should_change_the_generation_when_a_follower_comes_or_goes():
    first = build_routing_document([RegionObservation("HN", "http://hn:8000", 1)], {"HN": []})
    with_follower = build_routing_document(
        [RegionObservation("HN", "http://hn:8000", 1, (A,))], {"HN": []}, first
    )
    assert with_follower.generation == first.generation + 1
    same = build_routing_document(
        [RegionObservation("HN", "http://hn:8000", 1, (A,))], {"HN": []}, with_follower
    )
    assert same is with_follower
