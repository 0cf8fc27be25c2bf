"""The trace ids the DAG sends: one trace per run, one span per sender, W3C's format."""

from __future__ import annotations

import pytest

from order_contracts.tracing import (
    RUN_ID_HEADER,
    TRACEPARENT_HEADER,
    node_request_headers,
    parse_traceparent,
    trace_id_for,
    traceparent,
)


def test_one_trace_per_run_and_one_span_per_try() -> None:
    first, second = traceparent("run-1", "try-1"), traceparent("run-1", "try-2")
    other = traceparent("run-2", "try-1")
    assert parse_traceparent(first) == (trace_id_for("run-1"), first.split("-")[2])
    assert first.split("-")[1] == second.split("-")[1] != other.split("-")[1]
    assert first.split("-")[2] != second.split("-")[2]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "01-" + "a" * 32 + "-" + "b" * 16 + "-01",  # an unknown version
        "00-" + "0" * 32 + "-" + "b" * 16 + "-01",  # all-zero trace id
        "00-" + "a" * 32 + "-" + "0" * 16 + "-01",  # all-zero parent id
        "00-" + "a" * 31 + "-" + "b" * 16 + "-01",
        "00-" + "g" * 32 + "-" + "b" * 16 + "-01",
    ],
)
def test_malformed_headers_are_not_parsed(value: str) -> None:
    assert parse_traceparent(value) is None


def test_headers_carry_the_token_and_the_trace_only_when_given() -> None:
    assert node_request_headers(None, None, "x") == {}
    headers = node_request_headers("secret", "run-1", "try-1")
    assert headers["Authorization"] == "Bearer secret"
    assert headers[RUN_ID_HEADER] == "run-1"
    assert headers[TRACEPARENT_HEADER] == traceparent("run-1", "try-1")
