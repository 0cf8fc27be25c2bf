"""GET /orders: keyset pagination, filters and limits, on a node of its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import NodeFactory
from tests.node.conftest import seed_order


def test_pages_walk_every_order_once_in_creation_order(node_factory: NodeFactory) -> None:
    node = node_factory("HN")
    with node.client() as http:
        ids = [f"list-{i:02d}" for i in range(25)]
        for i, oid in enumerate(ids):
            assert http.post("/order", json=seed_order(oid, ("HCM", "HN", "DN")[i % 3])).is_success
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, str | int] = {"limit": 10}
            if cursor:
                params["cursor"] = cursor
            page = http.get("/orders", params=params).json()
            seen += [o["order_id"] for o in page["orders"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == ids
        assert pages == 3

        home_dn = http.get("/orders", params={"region": "dn", "limit": 1000}).json()
        assert [o["order_id"] for o in home_dn["orders"]] == ids[2::3]
        mine = http.get("/orders", params={"fulfilled_by": "HN"}).json()["orders"]
        assert len(mine) == 25
        other = http.get("/orders", params={"fulfilled_by": "HCM"}).json()["orders"]
        assert other == []

        future = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        assert http.get("/orders", params={"since": future}).json()["orders"] == []
        past = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
        assert len(http.get("/orders", params={"since": past}).json()["orders"]) == 25


def test_since_splits_orders_by_creation_time(node_factory: NodeFactory) -> None:
    node = node_factory("HCM")
    with node.client() as http:
        early = http.post("/order", json=seed_order("since-early")).json()
        late = http.post("/order", json=seed_order("since-late")).json()
        assert early["created_at"] < late["created_at"]
        page = http.get("/orders", params={"since": late["created_at"]}).json()
        assert [o["order_id"] for o in page["orders"]] == ["since-late"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 1001}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"since": "yesterday-ish"}, "since"),
        ({"since": "9999-12-31T23:59:59-05:00"}, "since"),
        ({"since": "0001-01-01T00:00:00+05:00"}, "since"),
        ({"region": "H C M"}, "region"),
    ],
)
def test_bad_list_parameters_are_422_naming_the_parameter(
    client: httpx.Client, params: dict[str, object], field: str
) -> None:
    response = client.get("/orders", params=params)
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json()["detail"]}
