"""How the Airflow target reads a batch run's XCom back into per-order results.

No Airflow here: the XCom is what the DAG's own writer (``order_contracts.run_summary``) makes,
so what can fail is the reader, e.g. looking an invalid order up under the wrong id.
"""

from __future__ import annotations

import json

from order_contracts.run_summary import summarize
from stress.orders import INVALID_KINDS, GeneratedOrder
from stress.targets.airflow import dag_order_id, result_entries


def generated(index: int, region: str, kind: str | None = None) -> GeneratedOrder:
    order_id = f"run-{index:07d}"
    payload = (
        INVALID_KINDS[kind](order_id, region)
        if kind
        else {"order_id": order_id, "customer_name": "A", "region": region}
    )
    body = json.dumps(payload).encode()
    return GeneratedOrder(index, order_id, region, payload, body, kind is None, kind or "valid")


def test_an_order_refused_under_its_payload_id_is_read_as_refused_not_committed() -> None:
    unit = [generated(i, "HN") for i in range(3)] + [generated(3, "HN", "bad_order_id")]
    bad = unit[3]
    assert dag_order_id(bad) == "run-0000003 has spaces" != bad.order_id
    dag_results = [
        {
            "order_id": o.order_id,
            "home_region": "HN",
            "assigned_node": "HN",
            "attempts": 1,
            "status": "created",
            "committed_at": "2026-12-04T10:00:00+00:00",
        }
        for o in unit[:3]
    ] + [
        {
            "order_id": dag_order_id(bad),
            "home_region": None,
            "assigned_node": None,
            "attempts": 0,
            "status": "invalid",
            "committed_at": None,
        }
    ]
    xcom = summarize("batch", dag_results, {"created", "replayed"}, "created")
    entries = result_entries(xcom, unit)
    assert entries[bad.order_id]["status"] == "invalid"
    assert [entries[o.order_id]["status"] for o in unit[:3]] == ["created"] * 3
