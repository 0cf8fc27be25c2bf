"""NODE_API_TOKEN: orders need the bearer token; /health and /metrics stay open."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from tests.conftest import NodeFactory, RunningNode
from tests.node.conftest import seed_order
from warehouse_node.app import create_app
from warehouse_node.deps import authorized_node
from warehouse_node.settings import NodeSettings

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def secured(node_factory: NodeFactory) -> RunningNode:
    return node_factory("HCM", env={"NODE_API_TOKEN": TOKEN})


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
    ids=["none", "wrong token", "wrong scheme"],
)
def test_orders_refuse_requests_without_the_token(
    secured: RunningNode, headers: dict[str, str]
) -> None:
    with secured.client() as http:
        routes = [("POST", "/order"), ("GET", "/order/x"), ("GET", "/orders"), ("POST", "/orders")]
        for method, path in routes:
            response = http.request(method, path, headers=headers, json=seed_order("auth-1"))
            assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"] == "Bearer"
        assert http.get("/health").json()["orders"] == 0


def test_orders_accept_the_token(secured: RunningNode) -> None:
    with secured.client(token=TOKEN) as http:
        assert http.post("/order", json=seed_order("auth-2")).status_code == 201
        assert http.get("/order/auth-2").status_code == 200
        assert len(http.get("/orders").json()["orders"]) == 1


def test_health_and_metrics_stay_open(secured: RunningNode) -> None:
    with secured.client() as http:
        assert http.get("/health").status_code == 200
        assert http.get("/metrics").status_code == 200


def test_every_orders_route_requires_the_token_dependency(tmp_path: Path) -> None:
    app = create_app(NodeSettings(NODE_REGION="HCM", DATA_DIR=tmp_path))
    order_routes = [
        r for r in app.routes if isinstance(r, APIRoute) and r.path.startswith("/order")
    ]
    assert len(order_routes) == 4
    for route in order_routes:
        calls = {d.call for d in route.dependant.dependencies}
        assert authorized_node in calls, route.path


def test_without_a_token_configured_orders_are_open(node_factory: NodeFactory) -> None:
    node = node_factory("HN")
    with node.client() as http:
        assert http.post("/order", json=seed_order("open-1", "HN")).status_code == 201
