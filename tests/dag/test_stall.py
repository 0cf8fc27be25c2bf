"""A node that leaves a request unanswered gets no more requests in that try (``stall.py``).

Real nodes behind the fault proxy, whose ``hang`` holds a POST open without an answer (a
frozen node). What can fail: every queued order of the frozen node waiting out its own timeout
in turn (with one request at a time, the try lasts orders x timeout), held-back orders marked as
in doubt (they were never sent), or an order lost or stored twice once the node answers again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunningNode
from tests.dag.test_delivery_rules import Runner, urls
from tests.support.fault_proxy import FaultProxy
from tests.support.orders import order, stored_ids, write_routing


@pytest.mark.parametrize("bulk_size", [1, 4], ids=["one-by-one", "bulk"])
def test_a_frozen_node_costs_one_timeout_per_try_and_its_orders_stay_pending(
    tmp_path: Path, three_nodes: dict[str, RunningNode], bulk_size: int
) -> None:
    batch = [order("HCM") for _ in range(12)] + [order("HN") for _ in range(4)]
    with FaultProxy(three_nodes["HCM"].url, default="hang") as proxy:
        routing = write_routing(tmp_path / "r.json", urls(three_nodes, HCM=proxy.url))
        runner = Runner(
            {"orders": batch}, routing, concurrency=1, bulk_size=bulk_size, node_timeout=1.0
        )
        first = runner.run(1)
        assert proxy.posts == ["hang"]  # the first request to HCM; the rest held back
        proxy.default = "forward"  # the node answers again
        second = runner.run(2)

    hcm = sorted(o["order_id"] for o in batch if o["region"] == "HCM")
    assert sorted(first.pending) == hcm  # HN's orders went through in the first try
    by_id = {r["order_id"]: r for r in first.results}
    attempted = [i for i in hcm if by_id[i]["attempts"]]
    assert len(attempted) == bulk_size  # only the unanswered request's orders are in doubt
    assert second.pending == [] and second.undelivered == []
    assert sorted(stored_ids(three_nodes["HCM"])) == hcm
    assert len(stored_ids(three_nodes["HN"])) == 4
    assert stored_ids(three_nodes["DN"]) == []
