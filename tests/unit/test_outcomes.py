"""Every row of the delivery rule (``order_contracts.outcomes``) and the one ``/health`` reader."""

from __future__ import annotations

import json

import pytest

from order_contracts.health import read_health_answer
from order_contracts.outcomes import (
    FINAL,
    Delivery,
    classify,
    is_final,
    may_reroute,
    may_retry_same_node,
)

D = Delivery


@pytest.mark.parametrize(
    ("status", "sent", "retry_after", "expected"),
    [
        (201, True, False, D.COMMITTED),
        (200, True, False, D.DUPLICATE),
        (409, True, False, D.CONFLICT),
        (422, True, False, D.REJECTED),
        (400, True, False, D.REJECTED),
        (404, True, False, D.REJECTED),
        (413, True, False, D.REJECTED),
        (401, True, False, D.DID_NOT_REACH),
        (403, True, False, D.DID_NOT_REACH),
        (421, True, False, D.DID_NOT_REACH),
        (429, True, False, D.DID_NOT_REACH),
        (429, True, True, D.DID_NOT_REACH),
        (503, True, True, D.DID_NOT_REACH),
        (503, True, False, D.MAY_HAVE_REACHED),
        (500, True, False, D.MAY_HAVE_REACHED),
        (500, True, True, D.MAY_HAVE_REACHED),
        (502, True, False, D.MAY_HAVE_REACHED),
        (504, True, False, D.MAY_HAVE_REACHED),
        (504, True, True, D.MAY_HAVE_REACHED),  # committed, replica unconfirmed: never reroute
        (202, True, False, D.MAY_HAVE_REACHED),  # not an answer the node gives: proves nothing
        (302, True, False, D.MAY_HAVE_REACHED),
        (None, True, False, D.MAY_HAVE_REACHED),  # read timeout, connection cut after sending
        (None, False, False, D.DID_NOT_REACH),  # connection refused, connect timeout
    ],
)
def test_each_answer_has_one_outcome(
    status: int | None, sent: bool, retry_after: bool, expected: Delivery
) -> None:
    assert classify(status, sent=sent, retry_after=retry_after) is expected


def test_a_conflict_is_final_and_never_retried() -> None:
    outcome = classify(409)
    assert is_final(outcome) and not may_retry_same_node(outcome) and not may_reroute(outcome)


def test_only_did_not_reach_may_go_to_another_region() -> None:
    assert {o for o in Delivery if may_reroute(o)} == {Delivery.DID_NOT_REACH}


def test_final_outcomes_are_the_stored_and_the_refused_ones() -> None:
    assert set(FINAL) == {D.COMMITTED, D.DUPLICATE, D.CONFLICT, D.REJECTED}
    assert {o for o in Delivery if may_retry_same_node(o)} == {D.MAY_HAVE_REACHED, D.DID_NOT_REACH}


REPORT = {
    "status": "down",
    "region": "HCM",
    "orders": 3,
    "in_flight": 0,
    "recent_rps": 0.0,
    "load": 0.0,
    "version": "t",
}


def test_a_down_node_explains_itself_with_a_503_report() -> None:
    health = read_health_answer(503, json.dumps(REPORT).encode())
    assert health is not None and health.status == "down" and not health.accepts_orders
    ok = read_health_answer(200, json.dumps(REPORT | {"status": "ok"}).encode())
    assert ok is not None and ok.accepts_orders


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (None, b""),  # no answer
        (502, json.dumps(REPORT).encode()),  # a proxy's answer, whatever its body
        (404, b'{"detail": "Not Found"}'),  # not a node
        (200, b"<html>"),  # not a report
        (200, b'{"status": "ok"}'),  # a report missing its fields
    ],
)
def test_anything_but_a_report_means_cannot_take_orders(status: int | None, body: bytes) -> None:
    assert read_health_answer(status, body) is None
