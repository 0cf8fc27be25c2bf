"""Logs: every line is one JSON object; order events carry order_id and region."""

from __future__ import annotations

import json

from tests.conftest import NodeFactory
from tests.node.conftest import seed_order


def test_order_events_are_json_lines_with_order_id_and_region(node_factory: NodeFactory) -> None:
    node = node_factory("HN")
    with node.client() as http:
        http.post("/order", json=seed_order("log-1", "HN"))
        http.post("/order", json=seed_order("log-1", "HN"))
        http.post("/order", json={**seed_order("log-1", "HN"), "customer_name": "Other"})
        http.post("/order", json=seed_order("log-2", "SG"))
    node.process.stop()
    lines = [line for line in node.log_path.read_text().splitlines() if line.strip()]
    events = [json.loads(line) for line in lines]  # every line parses, or this fails
    by_event = {e["event"]: e for e in events if e.get("order_id") == "log-1"}
    assert set(by_event) == {"order created", "order duplicate", "order conflict"}
    assert all(e["region"] == "HN" and e["node"] == "HN" for e in by_event.values())
    assert by_event["order conflict"]["level"] == "warning"
    rejected = [e for e in events if e["event"] == "order rejected"]
    assert rejected and "region" in rejected[0]["errors"]


def test_log_level_hides_info_events(node_factory: NodeFactory) -> None:
    node = node_factory("DN", env={"LOG_LEVEL": "warning"})
    with node.client() as http:
        assert http.post("/order", json=seed_order("quiet-1", "DN")).status_code == 201
    node.process.stop()
    assert "quiet-1" not in node.log_path.read_text()
