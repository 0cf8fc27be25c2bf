"""GET /health (the routing decision's input) and GET /metrics (Prometheus text)."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from order_contracts.health import Health
from tests.conftest import NodeFactory
from tests.node.conftest import seed_order
from warehouse_node.load import WINDOW_SECONDS, LoadTracker


def samples(client: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_health_reports_the_contract_model(client: httpx.Client, order_id: str) -> None:
    before = Health.model_validate(client.get("/health").json())
    client.post("/order", json=seed_order(order_id))
    after = Health.model_validate(client.get("/health").json())
    assert (after.status, after.region) == ("ok", "HCM")
    assert after.orders == before.orders + 1
    assert after.version
    assert after.recent_rps > 0


def test_overload_makes_the_node_degraded(node_factory: NodeFactory) -> None:
    node = node_factory("DN", env={"NODE_MAX_RPS": "2"})
    with node.client() as http:
        assert http.get("/health").json()["status"] == "ok"
        for _ in range(30):
            http.get("/order/missing")
        health = Health.model_validate(http.get("/health").json())
    assert health.status == "degraded"
    assert health.load >= 1
    assert health.accepts_orders


def test_metrics_parse_and_the_order_counter_moves(client: httpx.Client, order_id: str) -> None:
    created = ("warehouse_orders_total", (("home_region", "DN"), ("outcome", "created")))
    replayed = ("warehouse_orders_total", (("home_region", "DN"), ("outcome", "duplicate")))
    before = samples(client)
    client.post("/order", json=seed_order(order_id, "DN"))
    client.post("/order", json=seed_order(order_id, "DN"))
    after = samples(client)
    assert after[created] == before.get(created, 0) + 1
    assert after[replayed] == before.get(replayed, 0) + 1


def test_metrics_expose_latency_in_flight_db_size_and_build(client: httpx.Client) -> None:
    client.get("/orders")
    names = {name for name, _ in samples(client)}
    assert {
        "warehouse_http_request_duration_seconds_bucket",
        "warehouse_http_requests_total",
        "warehouse_http_requests_in_flight",
        "warehouse_db_size_bytes",
        "warehouse_orders_stored",
        "warehouse_build_info",
        "warehouse_db_commits_total",
        "warehouse_db_commit_duration_seconds_count",
    } <= names
    values = samples(client)
    assert values[("warehouse_db_size_bytes", ())] > 0
    build = [labels for name, labels in values if name == "warehouse_build_info"]
    assert ("region", "HCM") in build[0]


def test_metrics_carry_process_metrics_and_the_health_state_and_no_created_series(
    client: httpx.Client,
) -> None:
    client.post("/order", json=seed_order("created-series-probe"))
    metrics = samples(client)
    names = {name for name, _ in metrics}
    assert {
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
        "python_info",
    } <= names
    assert metrics[("process_resident_memory_bytes", ())] > 0
    health = {
        labels[0][1]: v for (n, labels), v in metrics.items() if n == "warehouse_health_status"
    }
    assert health == {"ok": 1.0, "degraded": 0.0, "down": 0.0}
    assert [n for n in names if n.endswith("_created")] == []


def test_the_controller_registry_carries_process_metrics_and_no_created_series() -> None:
    from controller.metrics import Metrics

    metrics = Metrics()
    metrics.errors.inc()
    text = metrics.text()
    assert "process_resident_memory_bytes " in text
    assert "python_info{" in text
    assert "warehouse_controller_errors_total 1.0" in text
    assert "_created" not in text


def test_health_load_counts_a_bulk_requests_orders_by_their_weight(
    node_factory: NodeFactory,
) -> None:
    """Routing reads ``load``: a node that just took 1,000 orders in one request is busy, by
    what those orders cost (``NODE_BULK_ORDER_WEIGHT``), not as one request."""
    node = node_factory("HN", env={"NODE_MAX_RPS": "10", "NODE_BULK_ORDER_WEIGHT": "0.1"})
    orders = [seed_order(f"load-bulk-{i}", "HN") for i in range(1000)]
    with node.client() as http:
        assert http.get("/health").json()["status"] == "ok"
        answer = http.post("/orders", json={"orders": orders}, timeout=60)
        assert answer.status_code == 200
        health = Health.model_validate(http.get("/health").json())
    # 1,000 x 0.1 = 100 in a 5 s window: >= 20/s, 2 x NODE_MAX_RPS (one request: 0.2/s)
    assert health.recent_rps >= 100 / WINDOW_SECONDS
    assert health.load >= 1
    assert health.status == "degraded"
    assert health.in_flight == 0  # released when answered


def test_load_tracker_counts_requests_in_flight_and_weighted_orders_in_the_rate() -> None:
    tracker = LoadTracker(max_in_flight=128, max_rps=1e9)
    tracker.enter()  # a bulk request: one in flight however many orders it carries ...
    tracker.count(99.0)  # ... and its orders' weight in the rate (1,000 x 0.1 - the request)
    assert tracker.in_flight == 1
    assert tracker.load() == 1 / 128
    assert tracker.recent_rps() >= 100 / WINDOW_SECONDS
    tracker.exit()
    assert tracker.in_flight == 0
    assert tracker.load() < 1e-3  # what is left is the rate: 100 / 1e9 per second
