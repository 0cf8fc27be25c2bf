"""The demo's flow, smaller: real nodes, real routing source, real Airflow, a node killed,
another node and its disk lost.

This is the proof that the parts fit. It runs ``run_demo`` — the very code ``make demo`` runs —
with fewer orders, and asserts what the demo claims: nothing lost, nothing duplicated, the
killed region's orders went to a fallback while it was down and home again after it rejoined,
routing saw the outage and the recovery, every Airflow run ended in success, and the node whose
disk was deleted came back restored from its replica, its follower serving reads meanwhile.
"""

from __future__ import annotations

import json

import pytest

from localmode.airflow import AirflowSettings
from localmode.demo import DemoOptions, run_demo

# The whole flow (Airflow start-up included) runs in the module fixture: bound it as a whole.
pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    options = DemoOptions(
        state_dir=tmp_path_factory.mktemp("demo"),
        kill_region="HCM",
        rate=1.0,
        seconds=45.0,
        kill_at=0.2,
        down_s=5.0,
        min_fallbacks=3,
        restart_at=0.55,
        # The node stays down until fallbacks happened: on a loaded machine Airflow may assign
        # no order of the region for tens of seconds, so the bound is wide (80 s), and the
        # retry budget (3 x 30 s) stays above it so orders cut by the kill are retried at home.
        max_down_s=80.0,
        retry_delay_s=30.0,
        batch_orders=40,
        batch_size=20,
        invalid_ratio=0.05,
        seed=11,
        # phase 3, short: 10 orders/s straight to the nodes for 15 s, HN and its disk lost
        # after 30 % for 4 s (replication is on by default)
        lose_disk_region="HN",
        disk_loss_rate=10.0,
        disk_loss_seconds=15.0,
        disk_loss_down_s=4.0,
        # one api-server worker and few task processes: the suite shares 2 cores, and this
        # run needs a fraction of what the tuned defaults are for
        airflow=AirflowSettings(api_workers=1, parallelism=8),
    )
    return run_demo(options), options


def test_every_valid_order_is_committed_exactly_once(demo):
    result, _ = demo
    for phase in result.phases:
        report = json.loads(result.report_path.read_text())["stress_reports"][phase["phase"]]
        valid = report["totals"]["valid"]
        assert phase["committed"] == valid, phase
        assert report["verify"]["found_exactly_once"] == valid, phase
        assert (phase["lost"], phase["duplicated"]) == (0, 0), phase
    assert result.passed


def test_killed_region_used_a_fallback_while_down_and_its_node_after_rejoin(demo):
    result, _ = demo
    story = result.story
    assert result.chaos.killed_at is not None and result.chaos.rejoin_s is not None
    assert story.while_down_on_fallback > 0, story
    assert set(story.fallback_warehouses) <= {"HN", "DN"}, story
    assert story.after_rejoin_home > 0, story


def test_routing_showed_the_region_not_ready_then_ready_again(demo):
    result, _ = demo
    hcm = [change["ready"]["HCM"] for change in result.routing_changes]
    assert hcm[0] is True
    first_down = hcm.index(False)
    assert True in hcm[first_down:], hcm


def test_every_airflow_run_succeeded(demo):
    result, _ = demo
    assert result.airflow_runs.get("success", 0) > 0
    assert set(result.airflow_runs) == {"success"}, result.airflow_runs


def test_a_lost_disk_is_restored_from_the_replica_and_nothing_is_lost(demo):
    result, _ = demo
    loss = json.loads(result.report_path.read_text())["disk_loss"]
    assert loss["region"] == "HN" and loss["passed"] is True, loss
    assert (loss["lost"], loss["duplicated"]) == (0, 0), loss
    # every phase's acknowledged orders were read back after the restore, not only phase 3's
    assert loss["acknowledged"] == sum(phase["committed"] for phase in result.phases), loss
    assert loss["restore_s"] > 0 and loss["ready_s"] >= loss["restore_s"], loss
    assert loss["orders_restored"] > 0, loss
    assert loss["down_s"] >= 4.0, loss


def test_the_follower_served_reads_while_its_node_was_down(demo):
    result, _ = demo
    loss = result.disk_loss
    assert loss is not None and loss.follower_reads > 0, loss
    assert loss.follower_url is not None and loss.follower_url.startswith("http://"), loss
