"""The DAG's ``params``: a JSON schema for the run conf, so Airflow checks it at trigger time.

Airflow validates a run's conf against the DAG's params when the run is created (the REST API
answers 400, the UI's trigger form shows the error and offers one JSON field per param), so a
conf of the wrong shape never becomes a run. Two params, both ``null`` by default because a
run carries one or the other: ``order`` (one order, with the node's own order schema) and
``orders`` (a batch: 1 to ``ORDER_MAX_BATCH`` objects). Batch items are only required to be
objects here: the ingest task checks each with ``order_contracts.orders`` and reports the
invalid ones while delivering the rest, which a trigger-time refusal of the whole batch would
not allow. Regions are checked at ingest too (the list is configuration, ``ORDER_REGIONS``).

The order schema is ``Order.model_json_schema()`` of ``order_contracts/orders.py``, kept as
``order_schema.json`` beside this module: the DAG file then needs no pydantic model at parse
time (every task process parses it). ``python -m order_workflow_lib.params`` rewrites the file;
tests/dag/test_params.py fails when it differs from the model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ORDER_SCHEMA_FILE = Path(__file__).with_name("order_schema.json")


def order_schema() -> dict[str, Any]:
    """The node's order schema (JSON schema), as stored beside this module."""
    schema: dict[str, Any] = json.loads(ORDER_SCHEMA_FILE.read_text())
    return schema


def order_params(max_batch: int) -> dict[str, Any]:
    """``params=`` for the DAG: keyword arguments of one ``Param`` per conf key."""
    one = order_schema()
    one.pop("title", None)
    one["type"] = ["object", "null"]  # null: this run is a batch
    return {
        "order": {
            **one,
            "default": None,
            "title": "One order",
            "description": (
                "one order as the node accepts it (order_id, customer_name, region; optional "
                'items and total); leave null for a batch. REST: "conf": {"order": {...}}'
            ),
        },
        "orders": {
            "default": None,
            "type": ["array", "null"],
            "title": "A batch of orders",
            "description": (
                f"1 to {max_batch} orders (ORDER_MAX_BATCH); each is checked at ingest and an "
                "invalid one is reported while the others are delivered; leave null for one order"
            ),
            "items": {"type": "object"},
            "minItems": 1,
            "maxItems": max_batch,
        },
    }


def _write() -> None:
    from order_contracts.orders import Order

    ORDER_SCHEMA_FILE.write_text(json.dumps(Order.model_json_schema(), indent=2) + "\n")
    print(f"wrote {ORDER_SCHEMA_FILE}")


if __name__ == "__main__":
    _write()
