"""The order schema every part validates with."""

from decimal import Decimal

import pytest

from order_contracts.orders import OrderRejected, parse_order

REGIONS = ("HCM", "HN", "DN")


def fields(exc: OrderRejected) -> set[str]:
    return {e.field for e in exc.errors}


def test_should_accept_the_original_report_payload_and_uppercase_region():
    order = parse_order({"order_id": "o-1", "customer_name": "An", "region": "hcm"}, REGIONS)
    assert order.region == "HCM"
    assert order.items is None


def test_should_accept_items_with_matching_total():
    order = parse_order(
        {
            "order_id": "o-2",
            "customer_name": "Binh",
            "region": "DN",
            "items": [{"sku": "A-1", "quantity": 2, "unit_price": 19.9}],
            "total": "39.80",
        },
        REGIONS,
    )
    assert order.total == Decimal("39.80")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"customer_name": "x", "region": "HCM"}, "order_id"),
        ({"order_id": "", "customer_name": "x", "region": "HCM"}, "order_id"),
        ({"order_id": "a b", "customer_name": "x", "region": "HCM"}, "order_id"),
        ({"order_id": "o", "customer_name": "x", "region": "PARIS"}, "region"),
        ({"order_id": "o", "customer_name": 5, "region": "HCM"}, "customer_name"),
        ({"order_id": "o", "customer_name": "x", "region": "HCM", "extra": 1}, "extra"),
        (
            {
                "order_id": "o",
                "customer_name": "x",
                "region": "HCM",
                "items": [{"sku": "A", "quantity": 0, "unit_price": 1}],
            },
            "items.0.quantity",
        ),
        (
            {
                "order_id": "o",
                "customer_name": "x",
                "region": "HCM",
                "items": [{"sku": "A", "quantity": "2", "unit_price": 1}],
            },
            "items.0.quantity",
        ),
        (
            {
                "order_id": "o",
                "customer_name": "x",
                "region": "HCM",
                "items": [{"sku": "A", "quantity": 1, "unit_price": -1}],
            },
            "items.0.unit_price",
        ),
        (
            {
                "order_id": "o",
                "customer_name": "x",
                "region": "HCM",
                "items": [{"sku": "A", "quantity": 1, "unit_price": 2}],
                "total": 3,
            },
            "body",
        ),
    ],
)
def test_should_name_the_field_at_fault(payload, field):
    with pytest.raises(OrderRejected) as caught:
        parse_order(payload, REGIONS)
    assert field in fields(caught.value)


def test_should_refuse_a_non_object_body():
    with pytest.raises(OrderRejected) as caught:
        parse_order(["not", "an", "order"], REGIONS)
    assert fields(caught.value) == {"body"}


def test_fingerprint_ignores_spelling_but_not_content():
    base = {
        "order_id": "o",
        "customer_name": "x",
        "region": "hcm",
        "items": [{"sku": "A", "quantity": 1, "unit_price": "19.9"}],
    }
    same = base | {"region": "HCM", "items": [{"sku": "A", "quantity": 1, "unit_price": 19.90}]}
    other = base | {"customer_name": "y"}
    assert parse_order(base, REGIONS).fingerprint() == parse_order(same, REGIONS).fingerprint()
    assert parse_order(base, REGIONS).fingerprint() != parse_order(other, REGIONS).fingerprint()
