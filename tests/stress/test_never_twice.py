"""The nodes target never stores an order twice: an answer lost after sending pins the order to
its node; only a request that provably did not reach a node may move to a fallback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rich.console import Console

from stress.config import StressConfig
from stress.orders import OrderGenerator
from stress.run import RunOutcome, run_stress
from tests.conftest import RunningNode
from tests.stress.conftest import stored_orders, write_document
from tests.support.fault_proxy import FaultProxy


def hcm_orders(routing: Path, run_id: str, orders: int) -> RunOutcome:
    config = StressConfig(
        target="nodes",
        orders=orders,
        concurrency=1,
        region_mix={"HCM": 1.0},
        routing=str(routing),
        run_id=run_id,
        verify=True,
        progress=False,
    )
    return asyncio.run(run_stress(config, Console(quiet=True)))


def test_a_lost_answer_is_retried_on_the_same_node_not_on_a_fallback(
    three_nodes: dict[str, RunningNode], tmp_path: Path
) -> None:
    hcm, dn = three_nodes["HCM"], three_nodes["DN"]
    # 1st POST: stored, then the connection drops; 2nd: a 500; 3rd: forwarded (a replay, 200).
    with FaultProxy(hcm.url, script=["forward_reset", "500"]) as proxy:
        routing = write_document(
            {"HCM": proxy.url, "DN": dn.url}, tmp_path / "routing.json", fallback=True
        )
        outcome = hcm_orders(routing, "lost", 1)
        assert proxy.posts == ["forward_reset", "500", "forward"]
    (result,) = outcome.results
    assert (result.outcome, result.warehouse, result.fallback) == ("committed", "HCM", False)
    assert result.attempts == 3
    assert [o["order_id"] for o in stored_orders(hcm, "lost-")] == [result.order_id]
    assert stored_orders(dn, "lost-") == []
    assert outcome.report["verify"]["duplicated"] == 0


def test_a_refused_request_moves_to_the_fallback(
    three_nodes: dict[str, RunningNode], tmp_path: Path
) -> None:
    hcm, dn = three_nodes["HCM"], three_nodes["DN"]
    with FaultProxy(hcm.url, script=["503"]) as proxy:
        routing = write_document(
            {"HCM": proxy.url, "DN": dn.url}, tmp_path / "routing.json", fallback=True
        )
        outcome = hcm_orders(routing, "refused", 1)
    (result,) = outcome.results
    assert (result.outcome, result.warehouse, result.fallback) == ("committed", "DN", True)
    assert outcome.report["fallbacks"]["routes"] == {"HCM->DN": 1}
    assert stored_orders(hcm, "refused-") == []
    assert outcome.report["verify"]["ok"] is True


def test_a_conflict_is_final_and_never_sent_again(
    three_nodes: dict[str, RunningNode], tmp_path: Path
) -> None:
    """The real node holds the order's id with other content: one 409, reported rejected, no
    retry and no fallback — the DAG's rule too (tests/dag/test_delivery_rules.py)."""
    hcm, dn = three_nodes["HCM"], three_nodes["DN"]
    (generated,) = OrderGenerator("conflict", {"HCM": 1.0}, 0.0, 0).take(1)
    with hcm.client() as client:
        other = generated.payload | {"customer_name": "Someone Else"}
        assert client.post("/order", json=other).status_code == 201
    with FaultProxy(hcm.url) as proxy:
        routing = write_document(
            {"HCM": proxy.url, "DN": dn.url}, tmp_path / "routing.json", fallback=True
        )
        outcome = hcm_orders(routing, "conflict", 1)
        assert proxy.posts == ["forward"]
    (result,) = outcome.results
    assert (result.order_id, result.outcome, result.attempts) == (
        generated.order_id,
        "rejected",
        1,
    )
    assert result.cause is not None and result.cause.startswith("409 conflict")
    assert stored_orders(dn, "conflict-") == []


@pytest.mark.parametrize(
    ("script", "posts", "warehouse"),
    [
        (["421"], ["421", "forward"], "DN"),  # misdirected: not stored, so it may move
        (["503-bare"], ["503-bare", "forward"], "HCM"),  # may have reached: same node only
    ],
)
def test_what_an_answer_proves_decides_where_the_retry_goes(
    three_nodes: dict[str, RunningNode],
    tmp_path: Path,
    script: list[str],
    posts: list[str],
    warehouse: str,
) -> None:
    hcm, dn = three_nodes["HCM"], three_nodes["DN"]
    with FaultProxy(hcm.url, script=script) as proxy:
        routing = write_document(
            {"HCM": proxy.url, "DN": dn.url}, tmp_path / "routing.json", fallback=True
        )
        outcome = hcm_orders(routing, f"proves{len(script[0])}", 1)
        sent_to_hcm = list(proxy.posts)
    (result,) = outcome.results
    assert (result.outcome, result.warehouse) == ("committed", warehouse)
    assert sent_to_hcm == posts[: 1 if warehouse == "DN" else 2]
    assert outcome.report["verify"]["duplicated"] == 0


def test_an_order_in_doubt_on_a_dead_home_is_settled_by_its_follower(
    three_nodes: dict[str, RunningNode], tmp_path: Path
) -> None:
    """HCM stores the order and dies before answering: HCM's follower proves it is there.

    The real HCM node answers the follower's reads (what a follower of HCM's replica holds);
    the proxy is HCM's write URL and refuses every connection after the first POST.
    """
    hcm, dn = three_nodes["HCM"], three_nodes["DN"]
    with FaultProxy(hcm.url, script=["forward_die"]) as proxy:
        routing = write_document(
            {"HCM": proxy.url, "DN": dn.url},
            tmp_path / "routing.json",
            fallback=True,
            read_urls={"HCM": [hcm.url]},
        )
        outcome = hcm_orders(routing, "doubt", 1)
    (result,) = outcome.results
    assert (result.outcome, result.warehouse, result.fallback) == ("committed", "HCM", False)
    assert result.cause is not None and "placed at home" in result.cause
    assert [o["order_id"] for o in stored_orders(hcm, "doubt-")] == [result.order_id]
    assert stored_orders(dn, "doubt-") == []
