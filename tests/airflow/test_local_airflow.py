"""The real thing: Airflow 3 (api-server, scheduler, dag-processor, triggerer, LocalExecutor,
PostgreSQL) started by ``localmode.airflow``, driven through the REST API like the stress tool.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from localmode.airflow import AirflowSettings, local_airflow
from tests.conftest import RunningNode
from tests.support.orders import order, stored_ids, write_routing

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def test_orders_triggered_through_the_rest_api_land_on_their_nodes(
    tmp_path: Path, three_nodes: dict[str, RunningNode]
) -> None:
    routing = write_routing(tmp_path / "routing.json", {r: n.url for r, n in three_nodes.items()})
    env = {"ORDER_ROUTING_SOURCE": str(routing), "NODE_API_TOKEN": ""}
    settings = AirflowSettings(parallelism=8, api_workers=1)
    single = order("HN")
    batch = [order(region) for region in ("HCM", "HCM", "DN")]

    with (
        local_airflow(tmp_path / "state", settings, env, wait_for=("order_workflow",)) as airflow,
        airflow.client() as client,
    ):
        one = client.trigger("order_workflow", {"order": single})
        many = client.trigger("order_workflow", {"orders": batch})
        states = [client.wait_run("order_workflow", run, 240) for run in (one, many)]
        one_result = client.xcom("order_workflow", one, "process")
        many_result = client.xcom("order_workflow", many, "process")

    assert states == ["success", "success"]
    assert one_result["orders"][0]["assigned_node"] == "HN"
    assert one_result["orders"][0]["status"] == "committed"
    assert many_result["counts"] == {"committed": 3}
    assert stored_ids(three_nodes["HN"]) == [single["order_id"]]
    assert sorted(stored_ids(three_nodes["HCM"])) == sorted(o["order_id"] for o in batch[:2])
    assert stored_ids(three_nodes["DN"]) == [batch[2]["order_id"]]
