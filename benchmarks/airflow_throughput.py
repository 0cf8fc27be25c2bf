"""Airflow throughput: order_workflow per order and in batches, against an empty 3-task floor.

One command (``python -m benchmarks.airflow_throughput``) starts three real warehouse nodes, a
routing file, a private PostgreSQL and a real Airflow 3 (api-server, scheduler, dag-processor,
triggerer; LocalExecutor) with ``localmode.airflow``'s default settings, then, on that one
Airflow, triggers runs through the REST API with a fixed number of runs in flight (closed
loop) and measures:

* **floor** — ``floor_workflow``: the same 3-task shape doing nothing (what Airflow itself costs);
* **per-order** — ``order_workflow`` with ``{"order": {...}}`` per run;
* **batch of N** — ``order_workflow`` with ``{"orders": [N orders]}`` per run, one phase per
  ``--batch-sizes`` entry (default 100; issue 12: ``--batch-sizes 500,1000,2000``).

Throughput is orders (or floor runs) per second over the phase; latency is trigger → committed
(the node's acknowledgement recorded by the process task; for the floor, the run's end); "task
s/run" is the time a run's three tasks spent running (the DAG's own work plus task start-up).
The modes alternate in ``--rounds`` chunks so drifting load from elsewhere hits them alike.
Bars (issue 4): per-order ≥ 0.8 x floor; the first batch size ≥ 40 x per-order. Bar (issue
12): every batch size of 500 or more ≥ 1,000 committed orders/s, no run failed. Afterwards
every node is checked to hold each order exactly once: stored = distinct = the orders of the
successful runs. The report is printed and written as JSON.

Override Airflow settings to tune: ``--set parallelism=16 --set api_workers=1``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any

from localmode.airflow import DAGS_FOLDER, AirflowSettings, LocalAirflow, local_airflow
from localmode.nodes import node_process
from localmode.processes import ManagedProcess
from order_contracts.envvars import LOG_LEVEL, NODE_API_TOKEN, ORDER_ROUTING_SOURCE
from order_contracts.labels import DAG_ID
from order_contracts.regions import DEFAULT_REGIONS, configured_proximity
from order_contracts.routing import RegionObservation, build_routing_document
from stress.airflow_api import AsyncAirflowClient
from stress.run_watch import RunWatcher
from stress.shard_orders import read_shard_now

from .airflow_report import Phase, report

REGIONS = DEFAULT_REGIONS
ORDER_DAG, FLOOR_DAG = DAG_ID, "floor_workflow"
FLOOR_DAG_FILE = Path(__file__).resolve().parent / "dags" / "floor_workflow.py"


def make_order(region: str, prefix: str = "bench") -> dict[str, Any]:
    """A valid order with an id of its own (the benchmarks' shared order shape)."""
    return {
        "order_id": f"{prefix}-{uuid.uuid4().hex}",
        "customer_name": "Benchmark Customer",
        "region": region,
        "items": [{"sku": "SKU-1", "quantity": 2, "unit_price": "10.50"}],
        "total": "21.00",
    }


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


async def run_phase(
    client: AsyncAirflowClient,
    name: str,
    dag_id: str,
    runs: int,
    in_flight: int,
    conf_for: Callable[[int], dict[str, Any]],
    orders_per_run: int,
) -> Phase:
    """``runs`` runs with ``in_flight`` at a time; latency = trigger → committed (or run end)."""
    latencies: list[float] = []
    task_seconds: list[float] = []
    failed = committed = 0
    counter = iter(range(runs))
    # One list request per interval for every run in flight, as the stress tool does: one GET
    # per run per 0.25 s (64/s with 16 in flight) loaded the api-server the tasks talk to.
    watcher = RunWatcher(client, dag_id, interval=0.25)

    async def worker() -> None:
        nonlocal failed, committed
        for index in counter:
            conf = conf_for(index)
            triggered = time.time()
            run_id = await client.trigger(dag_id, conf)
            state = await watcher.wait(run_id, timeout=600)
            if state != "success":
                failed += 1
                continue
            if dag_id == FLOOR_DAG:
                run = await client.run(dag_id, run_id)
                latencies.append(_epoch(run["end_date"]) - triggered)
            else:
                # order_contracts.run_summary: a single run lists its order; a batch run gives
                # per node the orders committed and the latest commit (one latency for them all)
                result = await client.xcom(dag_id, run_id, "process")
                for order in result.get("orders", []):
                    if order["committed_at"]:
                        committed += 1
                        latencies.append(_epoch(order["committed_at"]) - triggered)
                for entry in result.get("nodes", {}).values():
                    committed += int(entry["orders"])
                    if entry["last_committed_at"]:
                        at = _epoch(entry["last_committed_at"]) - triggered
                        latencies.extend([at] * int(entry["orders"]))
            tasks = await client.task_instances(dag_id, run_id)
            task_seconds.append(sum(float(t.get("duration") or 0.0) for t in tasks))

    started = time.monotonic()
    try:
        await asyncio.gather(*(worker() for _ in range(in_flight)))
    finally:
        await watcher.aclose()
    seconds = time.monotonic() - started
    # Orders: what the runs' XComs say was committed (the floor: its successful runs).
    orders = runs - failed if dag_id == FLOOR_DAG else committed
    return Phase(name, runs, orders, seconds, latencies, failed, task_seconds)


def count_orders(urls: dict[str, str]) -> tuple[int, int]:
    """(orders stored on all nodes, distinct order ids) — equal when nothing is duplicated."""
    ids = [i for url in urls.values() for i in read_shard_now(url).ids()]
    return len(ids), len(set(ids))


async def measure(airflow: LocalAirflow, args: argparse.Namespace) -> dict[str, Phase]:
    """Warm up, then ``rounds`` rounds of floor → per-order → batch chunks.

    Interleaving matters on a shared machine: load from elsewhere drifts over minutes, and
    alternating chunks gives the floor and the DAG the same conditions, so their ratio holds.
    """
    empty: Callable[[int], dict[str, Any]] = lambda i: {}  # noqa: E731
    single = lambda i: {"order": make_order(REGIONS[i % 3])}  # noqa: E731

    def batch_of(size: int) -> Callable[[int], dict[str, Any]]:
        cycle = [REGIONS[i % len(REGIONS)] for i in range(size)]
        return lambda i: {"orders": [make_order(r) for r in cycle]}

    plan = [
        ("floor", FLOOR_DAG, args.runs, args.in_flight, empty, 1),
        ("per-order", ORDER_DAG, args.runs, args.in_flight, single, 1),
        *(
            (
                f"batch of {size}",
                ORDER_DAG,
                args.batch_runs,
                args.batch_in_flight,
                batch_of(size),
                size,
            )
            for size in args.batch_sizes
        ),
    ]
    # A generous timeout: on a busy 2-core machine the api-server can take tens of seconds.
    login = (airflow.url, airflow.username, airflow.password)
    async with AsyncAirflowClient(*login, timeout=60.0) as client:
        # Warm-up: fork the executor's workers, fill caches; not measured.
        await run_phase(client, "warm-up", FLOOR_DAG, args.in_flight, args.in_flight, empty, 1)
        warm = await run_phase(
            client, "warm-up", ORDER_DAG, args.in_flight, args.in_flight, single, 1
        )
        chunks: dict[str, list[Phase]] = {name: [] for name, *_ in plan}
        for round_number in range(args.rounds):
            # ABBA order: a steady drift in outside load favours neither floor nor per-order.
            order = plan if round_number % 2 == 0 else [plan[1], plan[0], *plan[2:]]
            for name, dag_id, runs, in_flight, conf_for, size in order:
                share = runs // args.rounds + (1 if round_number < runs % args.rounds else 0)
                phase = await run_phase(client, name, dag_id, share, in_flight, conf_for, size)
                chunks[name].append(phase)
                print(f"round {round_number + 1}: {name}: {phase.rate:.2f}/s", flush=True)
    # The warm-up's orders are on the nodes too: the exactly-once check counts them.
    return {"warm-up": warm} | {name: Phase.merge(name, parts) for name, parts in chunks.items()}


def parse_settings(pairs: list[str]) -> AirflowSettings:
    known = {f.name: f.type for f in fields(AirflowSettings)}
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or key not in known:
            raise SystemExit(f"--set {pair!r}: expected NAME=VALUE, NAME one of {sorted(known)}")
        default = getattr(AirflowSettings(), key)
        values[key] = type(default)(raw)
    return AirflowSettings(**values)


def benchmark_dags_folder(folder: Path) -> Path:
    """The repository's DAG folder plus the floor DAG, as links in ``folder``.

    The floor lives in ``benchmarks/dags/`` so no image or deployment ships a benchmark DAG;
    only this benchmark's Airflow sees it next to ``order_workflow``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for entry in [*DAGS_FOLDER.iterdir(), FLOOR_DAG_FILE]:
        if entry.name != "__pycache__":
            (folder / entry.name).symlink_to(entry)
    return folder


@contextlib.contextmanager
def benchmark_stack(
    state: Path, settings: AirflowSettings, start_timeout: float
) -> Iterator[tuple[LocalAirflow, dict[str, str], Path]]:
    """Three nodes without a token, a fixed routing file, and Airflow with the floor DAG next to
    ``order_workflow``: ``(airflow, node URLs by region, routing file)``."""
    nodes: list[ManagedProcess] = []
    urls: dict[str, str] = {}
    try:
        for region in REGIONS:
            process, url = node_process(
                region,
                state / f"node-{region.lower()}",
                state / "logs",
                env={NODE_API_TOKEN: "", LOG_LEVEL: "WARNING"},
            )
            nodes.append(process.start())
            urls[region] = url
        document = build_routing_document(
            [RegionObservation(r, u, 1) for r, u in urls.items()], configured_proximity()
        )
        routing = state / "routing.json"
        routing.write_text(document.to_json())
        env = {ORDER_ROUTING_SOURCE: str(routing), NODE_API_TOKEN: ""}
        print(f"starting Airflow ({settings}) ...", flush=True)
        with local_airflow(
            state / "airflow",
            settings,
            env,
            dags_folder=benchmark_dags_folder(state / "dags"),
            wait_for=(ORDER_DAG, FLOOR_DAG),
            start_timeout=start_timeout,
        ) as airflow:
            yield airflow, urls, routing
    finally:
        for process in nodes:
            process.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.airflow_throughput")
    parser.add_argument("--runs", type=int, default=120, help="runs of the floor and per-order")
    parser.add_argument("--in-flight", type=int, default=16, help="runs in flight at once")
    parser.add_argument("--batch-runs", type=int, default=24)
    parser.add_argument(
        "--batch-sizes",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[100],
        help="orders per batch run, comma-separated: one batch phase each (e.g. 500,1000,2000)",
    )
    parser.add_argument("--batch-in-flight", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="alternating chunks per mode")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument(
        "--start-timeout", type=float, default=600.0, help="seconds for the api-server to start"
    )
    parser.add_argument("--out", type=Path, default=Path("reports/airflow_throughput.json"))
    args = parser.parse_args(argv)
    settings = parse_settings(args.set)

    with (
        tempfile.TemporaryDirectory(prefix="bench-airflow-") as tmp,
        benchmark_stack(Path(tmp), settings, args.start_timeout) as (airflow, urls, _),
    ):
        phases = asyncio.run(measure(airflow, args))
        stored = count_orders(urls)
    result = report(phases, settings, stored)
    result["command"] = "python -m benchmarks.airflow_throughput " + " ".join(sys.argv[1:])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"report: {args.out}")
    duplicates = stored[0] != stored[1]
    return 0 if result["passed"] and not duplicates else 1


if __name__ == "__main__":
    raise SystemExit(main())
