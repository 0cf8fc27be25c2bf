"""POST /order, GET /order/{id}, GET /orders against a real warehouse-node process."""

from __future__ import annotations

import asyncio

import httpx

from order_contracts.orders import StoredOrder
from tests.conftest import RunningNode
from tests.node.conftest import seed_order


def test_seed_payload_round_trips(client: httpx.Client, order_id: str) -> None:
    created = client.post("/order", json=seed_order(order_id))
    assert created.status_code == 201
    stored = StoredOrder.model_validate(created.json(), context={"regions": ["HCM"]})
    assert (stored.order_id, stored.customer_name, stored.region) == (
        order_id,
        "Nguyen Van A",
        "HCM",
    )
    assert (stored.home_region, stored.fulfilled_by, stored.status) == ("HCM", "HCM", "accepted")
    fetched = client.get(f"/order/{order_id}")
    assert fetched.status_code == 200
    assert fetched.json() == created.json()


def test_rich_order_keeps_items_and_total(client: httpx.Client, order_id: str) -> None:
    payload = seed_order(
        order_id,
        items=[
            {"sku": "RICE-5KG", "quantity": 2, "unit_price": "19.9"},
            {"sku": "FISH-SAUCE", "quantity": 1, "unit_price": 3},
        ],
        total=42.8,
    )
    created = client.post("/order", json=payload)
    assert created.status_code == 201
    body = created.json()
    assert body["items"][0] == {"sku": "RICE-5KG", "quantity": 2, "unit_price": "19.90"}
    assert body["total"] == "42.80"


def test_replay_returns_the_stored_order_with_200(client: httpx.Client, order_id: str) -> None:
    first = client.post("/order", json=seed_order(order_id))
    again = client.post("/order", json=seed_order(order_id))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()


def test_replay_spelled_differently_is_still_the_same_order(
    client: httpx.Client, order_id: str
) -> None:
    items = [{"sku": "A", "quantity": 1, "unit_price": "19.9"}]
    first = client.post("/order", json=seed_order(order_id, items=items))
    respelled = [{"unit_price": 19.90, "quantity": 1, "sku": "A"}]
    again = client.post("/order", json=seed_order(order_id, region="hcm", items=respelled))
    assert (first.status_code, again.status_code) == (201, 200)


def test_same_id_with_a_different_payload_is_a_conflict(
    client: httpx.Client, order_id: str
) -> None:
    first = client.post("/order", json=seed_order(order_id))
    clash = client.post("/order", json={**seed_order(order_id), "customer_name": "Someone Else"})
    assert clash.status_code == 409
    assert clash.json()["detail"][0]["field"] == "order_id"
    assert clash.json()["stored"] == first.json()
    assert client.get(f"/order/{order_id}").json()["customer_name"] == "Nguyen Van A"


def test_region_is_case_insensitive_and_stored_upper_case(
    client: httpx.Client, order_id: str
) -> None:
    created = client.post("/order", json=seed_order(order_id, region=" hcm "))
    assert created.status_code == 201
    assert (created.json()["region"], created.json()["home_region"]) == ("HCM", "HCM")


def test_another_regions_order_is_accepted_as_a_fallback(
    client: httpx.Client, order_id: str
) -> None:
    created = client.post("/order", json=seed_order(order_id, region="dn"))
    assert created.status_code == 201
    assert (created.json()["home_region"], created.json()["fulfilled_by"]) == ("DN", "HCM")


def test_unknown_order_is_404(client: httpx.Client) -> None:
    missing = client.get("/order/never-stored-here")
    assert missing.status_code == 404
    [reason] = missing.json()["detail"]
    assert reason["field"] == "order_id" and "never-stored-here" in reason["message"]


def test_fifty_concurrent_posts_of_one_id_store_one_row(
    shared_node: RunningNode, client: httpx.Client, order_id: str
) -> None:
    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=shared_node.url, limits=limits) as http:
            responses = await asyncio.gather(
                *(http.post("/order", json=seed_order(order_id)) for _ in range(50))
            )
        return [r.status_code for r in responses]

    statuses = asyncio.run(burst())
    assert sorted(statuses) == [200] * 49 + [201]
    rows = client.get("/orders", params={"limit": 1000}).json()["orders"]
    assert [o["order_id"] for o in rows].count(order_id) == 1
