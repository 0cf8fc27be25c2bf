"""Ingest: the run's conf → orders the node will accept, or a clear refusal."""

from __future__ import annotations

import pytest
from order_workflow_lib.intake import InvalidRun, read_conf

from tests.support.orders import order


def test_one_order_is_normalised_by_the_shared_schema() -> None:
    payload = order("hcm", items=[{"sku": "A-1", "quantity": 2, "unit_price": 9.9}], total=19.8)

    intake = read_conf({"order": payload}, max_batch=10)

    assert intake["mode"] == "single"
    assert intake["orders"][0]["region"] == "HCM"
    assert intake["orders"][0]["total"] == "19.80"


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        (None, "no conf given"),
        ({}, "got keys: nothing"),
        ({"order": order(), "orders": [order()]}, "got keys: order, orders"),
        ({"oder": order()}, "got keys: oder"),
        ({"orders": []}, "non-empty list"),
        ({"orders": {"a": 1}}, "non-empty list"),
        ({"order": {**order(), "region": "Saigon"}}, "region: unknown region 'Saigon'"),
        ({"order": "HCM-1"}, "body: an order must be a JSON object"),
        ({"order": None, "orders": None}, "got keys: nothing"),
    ],
)
def test_conf_that_cannot_be_processed_is_refused_with_the_reason(
    conf: object, message: str
) -> None:
    with pytest.raises(InvalidRun, match=message):
        read_conf(conf, max_batch=10)  # type: ignore[arg-type]


def test_a_batch_over_the_limit_is_refused_whole() -> None:
    with pytest.raises(InvalidRun, match="at most 3 orders"):
        read_conf({"orders": [order() for _ in range(4)]}, max_batch=3)


def test_a_batch_keeps_valid_orders_and_names_each_invalid_one() -> None:
    first, second = order("HN"), order("DN")
    batch = [first, {**order(), "customer_name": ""}, "junk", second, {**first, "region": "DN"}]

    intake = read_conf({"orders": batch}, max_batch=10)

    assert [o["order_id"] for o in intake["orders"]] == [first["order_id"], second["order_id"]]
    rejected = {r["index"]: r for r in intake["rejected"]}
    assert set(rejected) == {1, 2, 4}
    assert rejected[1]["errors"][0]["field"] == "customer_name"
    assert rejected[2]["order_id"] is None
    assert "repeats the order_id of item 0" in rejected[4]["errors"][0]["message"]


def test_a_batch_with_no_valid_order_is_refused() -> None:
    with pytest.raises(InvalidRun, match="none of the 2 orders is valid"):
        read_conf({"orders": [{"order_id": "x"}, {}]}, max_batch=10)


def test_the_unused_key_sent_as_null_by_the_trigger_form_is_ignored() -> None:
    single = read_conf({"order": order("HN"), "orders": None}, max_batch=10)
    batch = read_conf({"order": None, "orders": [order("DN")]}, max_batch=10)

    assert (single["mode"], batch["mode"]) == ("single", "batch")
