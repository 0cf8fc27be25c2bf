"""Every class of bad input is a 422 (or 413) naming what is wrong, and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.node.conftest import seed_order


def stored_count(client: httpx.Client) -> int:
    return int(client.get("/health").json()["orders"])


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _ok(**changes: Any) -> dict[str, Any]:
    return {**seed_order("bad-input-order"), **changes}


def _without(key: str) -> dict[str, Any]:
    payload = seed_order("bad-input-order")
    del payload[key]
    return payload


JSON_CASES: list[tuple[str, Any, str]] = [
    ("not an object", ["an", "array"], "body"),
    ("null body", None, "body"),
    ("missing order_id", _without("order_id"), "order_id"),
    ("missing customer_name", _without("customer_name"), "customer_name"),
    ("missing region", _without("region"), "region"),
    ("order_id wrong type", _ok(order_id=123), "order_id"),
    ("customer_name wrong type", _ok(customer_name=["x"]), "customer_name"),
    ("empty order_id", _ok(order_id=""), "order_id"),
    ("blank customer_name", _ok(customer_name="   "), "customer_name"),
    ("order_id with spaces", _ok(order_id="a b"), "order_id"),
    ("absurdly long order_id", _ok(order_id="x" * 5000), "order_id"),
    ("control characters in name", _ok(customer_name="a\x00b"), "customer_name"),
    ("unknown region", _ok(region="SG"), "region"),
    ("empty region", _ok(region=""), "region"),
    ("unknown field", _ok(coupon="FREE"), "coupon"),
    ("empty items", _ok(items=[]), "items"),
    ("items not a list", _ok(items="RICE"), "items"),
    (
        "zero quantity",
        _ok(items=[{"sku": "A", "quantity": 0, "unit_price": 1}]),
        "items.0.quantity",
    ),
    (
        "quantity as text",
        _ok(items=[{"sku": "A", "quantity": "2", "unit_price": 1}]),
        "items.0.quantity",
    ),
    (
        "absurd quantity",
        _ok(items=[{"sku": "A", "quantity": 10**12, "unit_price": 1}]),
        "items.0.quantity",
    ),
    (
        "negative price",
        _ok(items=[{"sku": "A", "quantity": 1, "unit_price": -1}]),
        "items.0.unit_price",
    ),
    (
        "price NaN",
        _ok(items=[{"sku": "A", "quantity": 1, "unit_price": "NaN"}]),
        "items.0.unit_price",
    ),
    (
        "price with 3 decimals",
        _ok(items=[{"sku": "A", "quantity": 1, "unit_price": "1.005"}]),
        "items.0.unit_price",
    ),
    ("absurd total", _ok(total=1e300), "total"),
    (
        "total not matching items",
        _ok(items=[{"sku": "A", "quantity": 2, "unit_price": 1}], total=3),
        "body",
    ),
]

RAW_CASES: list[tuple[str, bytes, str]] = [
    ("malformed JSON", b'{"order_id": "x", ', "body"),
    ("empty body", b"", "body"),
    ("invalid UTF-8", b'{"order_id": "\xff\xfe"}', "body"),
    ("absurd nesting", _deep(30_000), "body"),
    ("number with 5000 digits", b'{"order_id": 1' + b"0" * 5000 + b"}", "body"),
]


@pytest.fixture
def before(client: httpx.Client) -> Iterator[int]:
    """The stored count before the test; after it, the same count must still hold."""
    count = stored_count(client)
    yield count
    assert stored_count(client) == count, "a refused order was written"


def assert_names_field(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert field in {e["field"] for e in detail}, detail
    assert all(e["message"] for e in detail)


@pytest.mark.parametrize(("case", "payload", "field"), JSON_CASES, ids=[c[0] for c in JSON_CASES])
def test_bad_order_is_422_naming_the_field(
    client: httpx.Client, before: int, case: str, payload: Any, field: str
) -> None:
    response = client.post("/order", json=payload)
    assert_names_field(response, field)
    assert client.get("/order/bad-input-order").status_code == 404


@pytest.mark.parametrize(("case", "body", "field"), RAW_CASES, ids=[c[0] for c in RAW_CASES])
def test_unparseable_body_is_422_on_body(
    client: httpx.Client, before: int, case: str, body: bytes, field: str
) -> None:
    response = client.post("/order", content=body, headers={"content-type": "application/json"})
    assert_names_field(response, field)


def test_body_over_64_kib_is_413(client: httpx.Client, before: int) -> None:
    big = seed_order("too-big", customer_name="x" * (65 * 1024))
    response = client.post("/order", json=big)
    assert response.status_code == 413
    assert client.get("/order/too-big").status_code == 404


def test_streamed_body_over_64_kib_is_413_without_content_length(
    client: httpx.Client, before: int
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"order_id": "too-big-streamed", "customer_name": "'
        for _ in range(20):
            yield b"x" * 4096
        yield b'", "region": "HCM"}'

    response = client.post("/order", content=chunks())
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 413
    assert client.get("/order/too-big-streamed").status_code == 404


def test_body_just_under_the_limit_is_judged_on_its_content(
    client: httpx.Client, before: int
) -> None:
    payload = seed_order("long-name", customer_name="x" * (60 * 1024))
    assert_names_field(client.post("/order", json=payload), "customer_name")


def test_wrong_method_and_path_are_clear_4xx(client: httpx.Client) -> None:
    assert client.delete("/order/x").status_code == 405
    assert client.get("/nowhere").status_code == 404
