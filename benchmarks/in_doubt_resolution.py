"""Issue 11's in-doubt bar: the home node killed mid-load and left down, its follower settles.

One command (``python -m benchmarks.in_doubt_resolution``) starts local mode's replicated stack
(``localmode.stack.local_stack(replication=True)``: three sync-replicated nodes, one read
follower per region, the routing source, PostgreSQL + Airflow with LocalExecutor), triggers
``order_workflow`` batch runs with several in flight, and — once some runs have finished and the
home node of ``--region`` is serving a POST — SIGKILLs that node (and its Litestream) and leaves
it down until every run has ended, retries included (``--retries`` x ``--retry-delay``).

When to kill (``--kill-when``): with sync acknowledgements an order is in doubt *and* on the
replica only if the kill lands between Litestream's write of its transaction and the node's
answer — a few milliseconds. ``in-flight`` kills at the first poll that sees a POST in flight;
in the runs measured such a kill cut a bulk before its transaction reached the replica (its
orders end ``ambiguous``, absent from the replica: outside the bar's denominator).
``replicated`` (the default) then waits for a complete transaction file to land in the replica
and kills at once, to produce the orders the bar is about.

Afterwards, with the home still down:

* each order's final DAG status comes from the process task's XCom
  (:func:`order_contracts.run_summary.per_order_results`);
* *in doubt* = orders of the killed region that ended ``placed_at_home`` (settled from the
  follower) or ``ambiguous`` (a request that may have reached the home, never proven);
* *the home had replicated* = present on the region's follower (``GET /orders``, read once the
  follower's copy stopped changing; the follower holds what the replica holds).

Bars: placed_at_home / (in-doubt orders on the replica) ≥ 0.9; every acknowledged order stored
exactly once across the live nodes and the dead home's follower; no order on two shards; no
order of the killed region that reached its home (on the replica) committed on a fallback.
Fewer than ``MIN_IN_DOUBT`` replicated in-doubt orders → FAIL (too few for a ratio; raise the
load). Prints PASS/FAIL lines and exits 1 on a failed bar. The counting and the bars are
:mod:`benchmarks.in_doubt_tally`, the kill :mod:`benchmarks.in_doubt_kill`, reading the shards
back :mod:`benchmarks.stored_orders`.

    .venv/bin/python -m benchmarks.in_doubt_resolution --runs 40 --orders-per-run 150
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from localmode.stack import LocalStack, local_stack
from order_contracts.labels import DAG_ID
from order_contracts.regions import DEFAULT_REGIONS
from order_contracts.run_summary import per_order_results
from stress.airflow_api import AsyncAirflowClient
from stress.run_watch import RunWatcher

from .airflow_throughput import make_order
from .in_doubt_kill import Kill, killer
from .in_doubt_tally import checks, tally
from .stored_orders import read_shards


async def load(
    stack: LocalStack, args: argparse.Namespace
) -> tuple[dict[str, Mapping[str, Any]], dict[str, str], Counter[str], Kill]:
    """Trigger the runs (``in_flight`` at a time), kill the home mid-load, collect results."""
    airflow = stack.airflow
    assert airflow is not None
    homes: dict[str, str] = {}
    results: dict[str, Mapping[str, Any]] = {}
    run_states: Counter[str] = Counter()
    finished = 0
    done = asyncio.Event()
    kill = Kill()
    counter = iter(range(args.runs))
    async with AsyncAirflowClient(
        airflow.url, airflow.username, airflow.password, timeout=60.0
    ) as client:
        watcher = RunWatcher(client, DAG_ID, interval=0.5)

        async def worker() -> None:
            nonlocal finished
            for index in counter:
                orders = [
                    make_order(DEFAULT_REGIONS[(index + i) % len(DEFAULT_REGIONS)], "doubt")
                    for i in range(args.orders_per_run)
                ]
                pairs = [(o["order_id"], o["region"]) for o in orders]
                homes.update(pairs)
                run_id = await client.trigger(DAG_ID, {"orders": orders})
                state = await watcher.wait(run_id, timeout=900)
                run_states[state] += 1
                try:
                    value = await client.xcom_retrying(DAG_ID, run_id, "process", within=60)
                except Exception as exc:  # no XCom: the run's orders count as "no result"
                    print(f"run {run_id}: no process XCom ({exc})", flush=True)
                    value = None
                results.update(per_order_results(value, pairs))
                finished += 1
                if finished >= args.kill_after_runs:
                    done.set()

        started = time.monotonic()
        kill_task = asyncio.create_task(
            killer(stack, args.region, args.kill_when, done, started, kill)
        )
        try:
            await asyncio.gather(*(worker() for _ in range(args.in_flight)))
            done.set()
            await kill_task
        finally:
            await watcher.aclose()
    return results, homes, run_states, kill


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.in_doubt_resolution",
        description="Kill a home node mid-load (Airflow batch runs, sync replication), leave it "
        "down, and measure how many in-doubt orders its follower settles as placed at home.",
    )
    parser.add_argument("--runs", type=int, default=40, help="order_workflow batch runs")
    parser.add_argument("--orders-per-run", type=int, default=150, help="orders per run")
    parser.add_argument("--in-flight", type=int, default=8, help="runs in flight at once")
    parser.add_argument(
        "--region", default="HN", choices=DEFAULT_REGIONS, help="whose home node is killed"
    )
    parser.add_argument(
        "--kill-after-runs", type=int, default=8, help="kill once this many runs have finished"
    )
    parser.add_argument(
        "--kill-when",
        choices=("replicated", "in-flight"),
        default="replicated",
        help="replicated: when a POST is in flight and a transaction lands in the replica; "
        "in-flight: at the first poll that sees a POST in flight",
    )
    parser.add_argument("--retries", type=int, default=3, help="the process task's retries")
    parser.add_argument("--retry-delay", type=float, default=3.0, help="seconds between tries")
    parser.add_argument("--state", type=Path, help="keep the stack's state (logs) here")
    parser.add_argument("--out", type=Path, default=Path("reports/in_doubt_resolution.json"))
    args = parser.parse_args(argv)
    if args.runs < 1 or args.orders_per_run < 1 or args.in_flight < 1:
        parser.error("--runs, --orders-per-run and --in-flight must be >= 1")
    if not 0 <= args.kill_after_runs < args.runs:
        parser.error("--kill-after-runs must be between 0 and --runs - 1")

    with tempfile.TemporaryDirectory(prefix="bench-in-doubt-") as tmp:
        state = args.state or Path(tmp)
        print(f"starting the replicated stack in {state} ...", flush=True)
        with local_stack(
            state,
            replication=True,
            prometheus=False,
            retries=args.retries,
            retry_delay_s=args.retry_delay,
        ) as stack:
            started = time.monotonic()
            results, homes, run_states, kill = asyncio.run(load(stack, args))
            seconds = time.monotonic() - started
            home_down = not stack.nodes[args.region].running()
            stored = asyncio.run(read_shards(stack, args.region))
    t = tally(args.region, results, homes, stored)
    print(
        f"{args.runs} runs x {args.orders_per_run} orders ({args.in_flight} in flight) in "
        f"{seconds:.1f} s; runs {dict(run_states)}; {args.region}: {t.orders} orders, final "
        f"statuses {dict(t.statuses)}; in doubt {t.in_doubt} ({t.in_doubt_replicated} on the "
        f"replica); {t.no_result} orders without a result"
    )
    verdicts = checks(t, home_down)
    for ok, text in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    report = {
        "command": "python -m benchmarks.in_doubt_resolution " + " ".join(sys.argv[1:]),
        "seconds": round(seconds, 1),
        "runs": dict(run_states),
        "kill": kill.__dict__,
        "tally": {**t.__dict__, "statuses": dict(t.statuses), "ratio": round(t.ratio, 4)},
        "checks": [{"ok": ok, "text": text} for ok, text in verdicts],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"report: {args.out}")
    return 0 if all(ok for ok, _ in verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
