"""The DAG's ``params`` schema: Airflow itself refuses a conf of the wrong shape at trigger time.

Valid and invalid confs go through the code the api-server runs when a run is created (the
serialized DAG's ``params.deep_merge(conf).validate()``); the invalid ones also through
``dag.test()``, which must refuse them before a run or a task exists.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from order_workflow_lib.params import ORDER_SCHEMA_FILE
from order_workflow_lib.settings import WorkflowSettings

from order_contracts.orders import Order
from tests.support.orders import order

pytestmark = pytest.mark.airflow

MAX_BATCH = WorkflowSettings.from_env().max_batch


def scheduler_params(dag: Any) -> Any:
    """The params as the api-server and scheduler hold them: from the serialized DAG."""
    from airflow.serialization.serialized_objects import DagSerialization

    return DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag)).params


def test_the_stored_order_schema_is_the_node_s_model() -> None:
    # python -m order_workflow_lib.params (from dags/) rewrites it after a change to Order
    assert json.loads(ORDER_SCHEMA_FILE.read_text()) == Order.model_json_schema()


def test_the_trigger_form_gets_one_field_per_conf_key_with_the_batch_limit(order_dag: Any) -> None:
    schemas = {name: param.schema for name, param in order_dag.params.items()}

    assert set(schemas) == {"order", "orders"}
    assert set(schemas["order"]["required"]) == {"order_id", "customer_name", "region"}
    assert schemas["order"]["properties"].keys() == Order.model_fields.keys()
    assert (schemas["orders"]["minItems"], schemas["orders"]["maxItems"]) == (1, MAX_BATCH)
    assert all(order_dag.params[name] is None for name in schemas)  # nothing pre-filled


@pytest.mark.parametrize(
    "conf",
    [
        {"order": order("HCM")},
        {"order": order("HN", items=[{"sku": "A-1", "quantity": 2, "unit_price": "9.90"}])},
        {"orders": [order("DN"), order("HN")]},
        {"orders": [order("DN"), {"customer_name": ""}]},  # items are checked at ingest
        {"order": order("HCM"), "orders": None},  # what the UI's trigger form sends
        {"orders": [order("DN") for _ in range(MAX_BATCH)]},
    ],
    ids=["one", "one-with-items", "batch", "batch-with-an-invalid-item", "form", "full-batch"],
)
def test_confs_the_dag_can_run_pass_airflow_s_validation(order_dag: Any, conf: dict) -> None:
    resolved = scheduler_params(order_dag).deep_merge(conf).validate()

    assert {k: v for k, v in resolved.items() if v is not None} == {
        k: v for k, v in conf.items() if v is not None
    }


INVALID = {
    "order-not-an-object": {"order": "HCM-1"},
    "order-without-customer": {"order": {"order_id": "A-1", "region": "HCM"}},
    "order-with-unknown-field": {"order": {**order("HCM"), "colour": "red"}},
    "order-bad-id": {"order": {**order("HCM"), "order_id": "a b"}},
    "order-zero-quantity": {
        "order": order("HCM", items=[{"sku": "A", "quantity": 0, "unit_price": 1}])
    },
    "orders-empty": {"orders": []},
    "orders-not-a-list": {"orders": {"a": 1}},
    "orders-over-the-limit": {"orders": [order("DN") for _ in range(MAX_BATCH + 1)]},
    "orders-item-not-an-object": {"orders": ["junk"]},
}


@pytest.mark.parametrize("conf", INVALID.values(), ids=INVALID.keys())
def test_confs_of_the_wrong_shape_are_refused_by_airflow(order_dag: Any, conf: dict) -> None:
    from airflow.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        scheduler_params(order_dag).deep_merge(conf).validate()


def test_dag_test_refuses_an_invalid_conf_before_any_run_exists(order_dag: Any) -> None:
    from airflow.exceptions import ParamValidationError
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    def run_ids() -> set[str]:
        with create_session() as session:
            runs = session.query(DagRun.run_id).filter(DagRun.dag_id == order_dag.dag_id)
            return {row.run_id for row in runs}

    before = run_ids()
    with pytest.raises(ParamValidationError, match="orders"):
        order_dag.test(run_conf={"orders": []}, logical_date=None)
    # no new run (dag.test() may clear earlier test runs of the DAG first: compare ids, not
    # counts; CI saw 1 before and 0 after when another test's run came first)
    assert run_ids() <= before
