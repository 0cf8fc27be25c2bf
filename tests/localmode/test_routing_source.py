"""The local routing source keeps the document true from the nodes' own health."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import datetime
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from localmode.processes import ManagedProcess, console_script, free_port, wait_until
from order_contracts.routing import RoutingDocument
from order_contracts.source import load_routing_document


def routing_source_process(
    nodes, tmp_path: Path, followers: tuple[str, ...] = ()
) -> tuple[ManagedProcess, Path, Path, str]:
    out, history, port = tmp_path / "routing.json", tmp_path / "history.jsonl", free_port()
    argv = [*console_script("orders-routing-source", "localmode.routing_source")]
    argv += ["--out", str(out), "--history", str(history), "--port", str(port)]
    argv += ["--interval", "0.2"]
    for region, node in nodes.items():
        argv += ["--node", f"{region}={node.url}"]
    for follower in followers:
        argv += ["--follower", follower]
    url = f"http://127.0.0.1:{port}/routing.json"
    process = ManagedProcess("routing-source", argv, tmp_path / "routing-source.log", ready_url=url)
    return process, out, history, url


def read(path: Path) -> RoutingDocument | None:
    try:
        return RoutingDocument.from_json(path.read_text())
    except (OSError, ValueError):
        return None


def scrape(url: str) -> dict[tuple[str, str], float]:
    """``(sample name, region label or "")`` → value, from a ``/metrics`` answer."""
    text = httpx.get(url).text
    return {
        (sample.name, sample.labels.get("region", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels.keys() - {"region"}
    }


def test_should_mark_a_killed_node_not_ready_and_ready_again_after_restart(three_nodes, tmp_path):
    # Any node answering /health stands in for HCM's follower here (the source only probes
    # health); a follower that does not answer stays out of readUrls.
    dead = f"http://127.0.0.1:{free_port()}"
    serving = three_nodes["DN"].url
    followers = (f"HCM={dead}", f"HCM={serving}")
    process, out, history, url = routing_source_process(three_nodes, tmp_path, followers)
    process.start(ready_timeout=30)
    try:
        wait_until(
            lambda: (d := read(out)) is not None and len(d.ready_regions()) == 3,
            30,
            what="all three regions ready",
        )
        first = read(out)
        assert first is not None
        assert first.regions["HCM"].read_urls == [serving]
        assert first.regions["HN"].read_urls == []

        three_nodes["HN"].process.kill()
        wait_until(
            lambda: (d := read(out)) is not None and not d.regions["HN"].ready,
            30,
            what="HN not ready",
        )
        down = read(out)
        assert down is not None and down.generation > first.generation
        assert down.regions["DN"].fallback[-1] == "HN", "a not-ready region is tried last"
        metrics = scrape(url.replace("routing.json", "metrics"))
        assert {r: metrics[("warehouse_routing_region_ready", r)] for r in three_nodes} == {
            "HCM": 1.0,
            "HN": 0.0,
            "DN": 1.0,
        }
        assert metrics[("warehouse_routing_reconcile_duration_seconds_count", "")] >= 2

        three_nodes["HN"].process.start(ready_timeout=60)
        wait_until(
            lambda: (d := read(out)) is not None and d.regions["HN"].ready,
            30,
            what="HN ready again",
        )

        # the HTTP view and the file view are the same document
        served = load_routing_document(url)
        assert served == read(out)
        assert httpx.get(url.replace("routing.json", "health")).status_code == 200

        changes = [json.loads(line) for line in history.read_text().splitlines()]
        hn = [c["ready"]["HN"] for c in changes]
        assert hn[0] is True and False in hn and hn[-1] is True
        assert [c["generation"] for c in changes] == sorted({c["generation"] for c in changes})
    finally:
        process.stop()


def test_should_mark_a_frozen_node_not_ready_within_3_s_and_ready_again_within_2_s(
    three_nodes, tmp_path
):
    """A gray failure: SIGSTOP leaves the port accepting connections, and nothing answers."""
    process, out, history, _ = routing_source_process(three_nodes, tmp_path)
    process.start(ready_timeout=30)
    node = three_nodes["HN"].process
    assert node.pid is not None
    try:
        wait_until(
            lambda: (d := read(out)) is not None and len(d.ready_regions()) == 3,
            30,
            what="all three regions ready",
        )
        frozen_at = time.time()
        os.killpg(node.pid, signal.SIGSTOP)
        wait_until(
            lambda: (d := read(out)) is not None and not d.regions["HN"].ready, 30, what="HN down"
        )
        thawed_at = time.time()
        os.killpg(node.pid, signal.SIGCONT)
        wait_until(lambda: (d := read(out)) is not None and d.regions["HN"].ready, 30, what="HN")
        changes = [json.loads(line) for line in history.read_text().splitlines()]
        at = {
            ready: datetime.fromisoformat(c["at"]).timestamp()
            for c in changes
            for ready in [c["ready"]["HN"]]
            if c["at"] and datetime.fromisoformat(c["at"]).timestamp() >= frozen_at
        }
        assert at[False] - frozen_at <= 3.0, "a frozen node must be not ready within 3 s"
        assert at[True] - thawed_at <= 2.0, "a thawed node must be ready again within 2 s"
        others = [c for c in changes if c["ready"]["HCM"] is False or c["ready"]["DN"] is False]
        assert others == [], "the frozen node must not hold up the other regions"
    finally:
        os.killpg(node.pid, signal.SIGCONT)
        process.stop()
