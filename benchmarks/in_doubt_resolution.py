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
load). Prints PASS/FAIL lines and exits 1 on a failed bar.

    .venv/bin/python -m benchmarks.in_doubt_resolution --runs 40 --orders-per-run 150
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from localmode.replication import replica_dir
from localmode.stack import LocalStack, local_stack
from order_contracts.labels import DAG_ID
from order_contracts.outcomes import COMMITTED_STATUSES, PLACED_AT_HOME
from order_contracts.regions import DEFAULT_REGIONS
from order_contracts.run_summary import per_order_results
from stress.airflow_api import AsyncAirflowClient
from stress.run_watch import RunWatcher

from .airflow_throughput import make_order

AMBIGUOUS = "ambiguous"
BAR_RATIO = 0.9
MIN_IN_DOUBT = 10


@dataclass
class Tally:
    """The counts the bars are computed from (all from one run)."""

    region: str
    orders: int = 0  # orders whose home is the killed region
    statuses: Counter[str] = field(default_factory=Counter)
    in_doubt: int = 0
    in_doubt_replicated: int = 0
    placed_at_home: int = 0
    placed_at_home_replicated: int = 0
    acknowledged: int = 0
    acknowledged_once: int = 0
    lost: int = 0
    duplicated: int = 0
    rerouted_in_doubt: int = 0
    no_result: int = 0

    @property
    def ratio(self) -> float:
        return (
            self.placed_at_home_replicated / self.in_doubt_replicated
            if self.in_doubt_replicated
            else 0.0
        )


def tally(
    region: str,
    results: Mapping[str, Mapping[str, Any]],
    homes: Mapping[str, str],
    stored: Mapping[str, Iterable[str]],
) -> Tally:
    """Count what the bars need.

    ``results``: order id → its per-order DAG result; ``homes``: every sent order id → its home
    region; ``stored``: per shard the order ids it holds (for the killed region: its follower's
    copy), repeats kept.
    """
    where: dict[str, list[str]] = {}
    for shard, ids in stored.items():
        for order_id in ids:
            where.setdefault(order_id, []).append(shard)
    replica = {order_id for order_id, shards in where.items() if region in shards}
    out = Tally(region)
    out.duplicated = sum(1 for shards in where.values() if len(shards) > 1)
    for order_id, home in homes.items():
        result = results.get(order_id)
        status = str(result["status"]) if result else "no result"
        if result is None:
            out.no_result += 1
        if status in COMMITTED_STATUSES:
            out.acknowledged += 1
            copies = len(where.get(order_id, []))
            out.acknowledged_once += copies == 1
            out.lost += copies == 0
        if home != region:
            continue
        out.orders += 1
        out.statuses[status] += 1
        on_replica = order_id in replica
        if status in (PLACED_AT_HOME, AMBIGUOUS):
            out.in_doubt += 1
            out.in_doubt_replicated += on_replica
        if status == PLACED_AT_HOME:
            out.placed_at_home += 1
            out.placed_at_home_replicated += on_replica
        # it reached its home (the replica has it) yet was committed elsewhere: a reroute of an
        # order in doubt (it is a duplicate as well when the fallback stored it)
        if result and on_replica and str(result.get("assigned_node")) != region:
            out.rerouted_in_doubt += 1
    return out


async def shard_ids(http: httpx.AsyncClient, url: str) -> list[str]:
    """Every order id a node (or follower) holds, paging ``GET /orders`` (repeats kept)."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 1000}
        if cursor:
            params["cursor"] = cursor
        page = (await http.get(f"{url}/orders", params=params)).raise_for_status().json()
        ids += [o["order_id"] for o in page["orders"]]
        cursor = page["next_cursor"]
        if not cursor:
            return ids


async def settled_follower_ids(http: httpx.AsyncClient, url: str, quiet_s: float) -> list[str]:
    """The follower's ids once its copy has not changed for ``quiet_s`` (the primary is dead,
    so the replica is final; the follower only has to finish applying it)."""
    ids = await shard_ids(http, url)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        await asyncio.sleep(quiet_s)
        again = await shard_ids(http, url)
        if len(again) == len(ids):
            return again
        ids = again
    return ids


@dataclass
class Kill:
    mode: str = ""
    at_s: float = 0.0  # seconds after the first trigger
    in_flight: int = 0  # requests the home was serving then
    orders_before: int = 0  # orders the home held then
    forced: bool = False  # the moment never came before the wait ran out: killed anyway


def ltx_files(folder: Path) -> set[str]:
    """The complete transaction files in ``folder`` (Litestream writes ``*.ltx.tmp``, then
    renames it: only the renamed file is in the replica)."""
    try:
        return {name for name in os.listdir(folder) if name.endswith(".ltx")}
    except FileNotFoundError:
        return set()


def kill_on_replica_write(stack: LocalStack, region: str, window_s: float) -> bool:
    """SIGKILL the node as soon as a new transaction file lands in its replica (within
    ``window_s``): a request in flight is then likely between "the replica holds it" and its
    acknowledgement — the window whose orders are in doubt yet replicated. Polls in a thread:
    an event loop's wake-ups are too coarse for a window of milliseconds."""
    level0 = replica_dir(stack.state_dir, region) / "ltx" / "0"
    before = ltx_files(level0)
    deadline = time.monotonic() + window_s
    while time.monotonic() < deadline:
        if ltx_files(level0) - before:
            stack.kill_node(region)
            return True
        time.sleep(0.0002)
    return False


async def killer(
    stack: LocalStack,
    region: str,
    mode: str,
    done: asyncio.Event,
    started: float,
    kill: Kill,
) -> None:
    """Once ``done`` (enough runs finished), SIGKILL the home while it serves a POST.

    ``mode``: ``in-flight`` kills at the first poll that sees a POST in flight (anywhere in its
    life: most such kills cut requests before their commit); ``replicated`` then waits for the
    replica to receive a transaction and kills at once (see :func:`kill_on_replica_write`).
    """
    await done.wait()
    kill.mode = mode
    url = stack.node_urls[region]
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=2.0) as http:
        while True:
            try:
                health = (await http.get(f"{url}/health")).json()
            except httpx.HTTPError:
                health = {}
            kill.in_flight = int(health.get("in_flight") or 0)
            kill.orders_before = int(health.get("orders") or 0)
            if time.monotonic() > deadline:
                kill.forced = True
                stack.kill_node(region)
                break
            if kill.in_flight >= 1:
                if mode == "in-flight":
                    stack.kill_node(region)
                    break
                if await asyncio.to_thread(kill_on_replica_write, stack, region, 0.2):
                    break
            await asyncio.sleep(0.005)
    kill.at_s = time.monotonic() - started
    print(
        f"killed {region} ({mode}) at {kill.at_s:.1f} s ({kill.in_flight} request(s) in "
        f"flight, {kill.orders_before} orders stored){' [forced]' if kill.forced else ''}",
        flush=True,
    )


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


async def read_shards(stack: LocalStack, region: str) -> dict[str, list[str]]:
    """Per shard its order ids: the live nodes' own, the dead home's from its follower."""
    async with httpx.AsyncClient(timeout=30.0, headers=stack.auth_headers()) as http:
        stored = {}
        for shard, url in stack.node_urls.items():
            if shard == region:
                stored[shard] = await settled_follower_ids(http, stack.follower_urls[shard], 2.0)
            else:
                stored[shard] = await shard_ids(http, url)
    return stored


def checks(t: Tally, home_down: bool) -> list[tuple[bool, str]]:
    enough = t.in_doubt_replicated >= MIN_IN_DOUBT
    return [
        (
            enough,
            f"in-doubt orders the home had replicated >= {MIN_IN_DOUBT}: {t.in_doubt_replicated}"
            + ("" if enough else " (too few for a ratio: raise --orders-per-run / --in-flight)"),
        ),
        (
            enough and t.ratio >= BAR_RATIO,
            f"placed_at_home / in-doubt on the replica >= {BAR_RATIO}: "
            f"{t.placed_at_home_replicated} / {t.in_doubt_replicated} = {t.ratio:.3f}",
        ),
        (
            t.lost == 0 and t.acknowledged_once == t.acknowledged,
            f"every acknowledged order stored exactly once: {t.acknowledged_once} of "
            f"{t.acknowledged} (lost {t.lost})",
        ),
        (t.duplicated == 0, f"0 duplicates (an order on two shards): {t.duplicated}"),
        (
            t.rerouted_in_doubt == 0,
            f"no in-doubt order rerouted to a fallback: {t.rerouted_in_doubt}",
        ),
        (home_down, f"{t.region} stayed down until every run had ended: {home_down}"),
    ]


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
