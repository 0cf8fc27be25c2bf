"""Inputs are unambiguous (issue 16, part 4), on a real node: duplicate keys, ``-0.00``, bodies
declared as something else than UTF-8 JSON, and path ids too long to echo back."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.node.conftest import seed_order

JSON = {"content-type": "application/json"}


def _raw(order_id: str, middle: str) -> bytes:
    """An order's JSON text with ``middle`` spliced in after its first field, as a client might
    write it by hand (``json.dumps`` cannot produce a duplicate key)."""
    return (
        f'{{"order_id": "{order_id}", {middle}, "customer_name": "Nguyen Van A", "region": "HCM"}}'
    ).encode()


def _detail(response: httpx.Response) -> list[dict[str, str]]:
    detail = response.json()["detail"]
    assert all(set(e) == {"field", "message"} for e in detail), detail
    return detail


@pytest.mark.parametrize(
    ("case", "middle", "field"),
    [
        ("top-level key", '"region": "HN", "total": "1.00", "total": "2.00"', "total"),
        (
            "key inside an item",
            '"items": [{"sku": "A", "quantity": 1, "unit_price": "1.00", "sku": "B"}]',
            "items.0.sku",
        ),
        ("same value twice", '"order_id": "same"', "order_id"),
        ("key spelled with an escape", '"region": "HN", "r\\u0065gion": "HCM"', "region"),
    ],
)
def test_a_repeated_key_is_422_naming_it(
    client: httpx.Client, order_id: str, case: str, middle: str, field: str
) -> None:
    if case == "same value twice":
        middle = f'"order_id": "{order_id}"'
    response = client.post("/order", content=_raw(order_id, middle), headers=JSON)
    assert response.status_code == 422, response.text
    [error] = _detail(response)
    assert error["field"] == field and "duplicate key" in error["message"]
    assert client.get(f"/order/{order_id}").status_code == 404


def test_colons_and_escapes_in_values_are_not_taken_for_duplicates(
    client: httpx.Client, order_id: str
) -> None:
    """The duplicate check counts ``:``; values full of them (and escapes) must still go in."""
    name = {"order_id": f"{order_id}:a:b", "customer_name": "Dr: Nguyễn X", "region": "HCM"}
    # ensure_ascii writes "\\u1ec5" for the name's ễ; the last ":" is spelled "\\u003a".
    body = json.dumps(name).replace(" X", " \\u003a")
    response = client.post("/order", content=body.encode(), headers=JSON)
    assert response.status_code == 201, response.text
    assert response.json()["customer_name"] == "Dr: Nguyễn :"


def test_bulk_refuses_a_repeated_key_as_a_whole_naming_the_order(
    client: httpx.Client, order_id: str
) -> None:
    good = json.dumps(seed_order(f"{order_id}-good"))
    bad = _raw(f"{order_id}-bad", '"region": "HN"').decode()
    body = f'{{"orders": [{good}, {bad}]}}'.encode()
    response = client.post("/orders", content=body, headers=JSON)
    assert response.status_code == 422, response.text
    [error] = _detail(response)
    assert error["field"] == "orders.1.region" and "duplicate key" in error["message"]
    assert client.get(f"/order/{order_id}-good").status_code == 404  # nothing written

    twice = b'{"orders": [], "orders": [' + good.encode() + b"]}"
    response = client.post("/orders", content=twice, headers=JSON)
    assert response.status_code == 422 and _detail(response)[0]["field"] == "orders"


@pytest.mark.parametrize("spelling", ['"-0.00"', "-0", "-0.0", '"-0"'])
def test_minus_zero_is_stored_as_zero_and_a_replay_with_zero_is_200(
    client: httpx.Client, order_id: str, spelling: str
) -> None:
    item = f'"items": [{{"sku": "FREE", "quantity": 1, "unit_price": {spelling}}}]'
    first = client.post("/order", content=_raw(order_id, f'{item}, "total": {spelling}'))
    assert first.status_code == 201, first.text
    stored = first.json()
    assert stored["total"] == "0.00" and stored["items"][0]["unit_price"] == "0.00"
    replay = seed_order(order_id, items=[{"sku": "FREE", "quantity": 1, "unit_price": 0}], total=0)
    again = client.post("/order", json=replay)
    assert again.status_code == 200, again.text


@pytest.mark.parametrize(
    ("content_type", "named"),
    [
        ("text/plain", "'text/plain'"),
        ("text/plain; charset=utf-8", "'text/plain'"),
        ("application/x-www-form-urlencoded", "'application/x-www-form-urlencoded'"),
        ("multipart/form-data; boundary=x", "'multipart/form-data'"),
        ("application/json; charset=utf-16", "'utf-16'"),
        ("application/json; charset=latin-1", "'latin-1'"),
    ],
)
@pytest.mark.parametrize("path", ["/order", "/orders"])
def test_a_body_not_declared_utf8_json_is_415_naming_the_type(
    client: httpx.Client, order_id: str, content_type: str, named: str, path: str
) -> None:
    order = seed_order(order_id)
    payload: object = order if path == "/order" else {"orders": [order]}
    body = json.dumps(payload).encode()
    response = client.post(path, content=body, headers={"content-type": content_type})
    assert response.status_code == 415, response.text
    [error] = _detail(response)
    assert error["field"] == "content-type" and named in error["message"]
    assert client.get(f"/order/{order_id}").status_code == 404


def test_utf16_json_is_refused_even_when_declared_json(client: httpx.Client, order_id: str) -> None:
    body = json.dumps(seed_order(order_id)).encode("utf-16")
    response = client.post("/order", content=body, headers=JSON)
    assert response.status_code == 422 and _detail(response)[0]["field"] == "body"
    assert client.get(f"/order/{order_id}").status_code == 404


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json", "Application/JSON; charset=UTF-8", "application/merge+json"],
)
def test_json_declared_or_not_declared_is_accepted(
    client: httpx.Client, order_id: str, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    body = json.dumps(seed_order(order_id)).encode()
    response = client.post("/order", content=body, headers=headers)
    assert response.status_code == 201, response.text


def test_a_very_long_path_id_is_not_echoed_in_full(client: httpx.Client) -> None:
    long_id = "x" * 6000
    response = client.get(f"/order/{long_id}")
    assert response.status_code == 404
    [error] = _detail(response)
    assert error["field"] == "order_id"
    assert len(response.content) < 400 and "6000 characters" in error["message"]
    assert long_id[:128] in error["message"] and long_id[:129] not in error["message"]
