"""Issue 12's bar as the issue states it: the stress tool through the real Airflow.

``orders-stress --target airflow --batch-size N --verify`` (the product's own client: REST API
v2 → ``order_workflow`` → nodes) against the benchmark's stack (three nodes, PostgreSQL,
Airflow with LocalExecutor, as local mode runs it), after a phase of the empty 3-task floor DAG
measured on the same stack as the baseline. Prints committed orders/s, the ratio to the floor's
runs/s, and the bars: ≥ 1,000 committed orders/s, none failed, every order stored exactly once
(the stress tool's ``--verify``). Exit status 1 when a bar fails.

    .venv/bin/python -m benchmarks.airflow_stress --orders 48000 --batch-size 2000 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from stress.airflow_api import AsyncAirflowClient

from .airflow_throughput import FLOOR_DAG, benchmark_stack, parse_settings, run_phase

BAR_ORDERS_PER_S = 1000.0


def stress_argv(args: argparse.Namespace, airflow_url: str, login: tuple[str, str]) -> list[str]:
    script = shutil.which("orders-stress") or str(Path(sys.executable).with_name("orders-stress"))
    return [
        script,
        *("--target", "airflow", "--endpoint", airflow_url),
        *("--airflow-user", login[0], "--airflow-password", login[1]),
        *("--orders", str(args.orders), "--batch-size", str(args.batch_size)),
        *("--concurrency", str(args.concurrency), "--invalid-ratio", "0", "--verify"),
        *("--report", "-"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.airflow_stress")
    parser.add_argument("--orders", type=int, default=48000)
    parser.add_argument("--batch-size", type=int, default=2000, help="orders per DAG run")
    parser.add_argument("--concurrency", type=int, default=8, help="DAG runs in flight")
    parser.add_argument("--floor-runs", type=int, default=24, help="runs of the empty DAG")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--start-timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    settings = parse_settings(args.set)
    with (
        tempfile.TemporaryDirectory(prefix="bench-airflow-stress-") as tmp,
        benchmark_stack(Path(tmp), settings, args.start_timeout) as (airflow, _, routing),
    ):
        login = (airflow.url, airflow.username, airflow.password)

        async def floor() -> float:
            async with AsyncAirflowClient(*login, timeout=60.0) as client:
                phase = await run_phase(
                    client, "floor", FLOOR_DAG, args.floor_runs, args.concurrency, lambda i: {}, 1
                )
            return phase.rate

        floor_rate = asyncio.run(floor())
        argv_ = stress_argv(args, airflow.url, (airflow.username, airflow.password))
        done = subprocess.run(
            [*argv_, "--routing", str(routing)], capture_output=True, text=True, check=False
        )
    try:
        stress: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError:
        print(f"orders-stress gave no report (exit {done.returncode}): {done.stderr[-2000:]}")
        return 1
    totals, verify = stress["totals"], stress.get("verify") or {}
    rate = totals["committed"] / stress["duration_s"]
    checks = [
        (rate >= BAR_ORDERS_PER_S, f"committed orders/s >= {BAR_ORDERS_PER_S:,.0f}: {rate:,.1f}"),
        (totals["failed"] == 0 and totals["in_doubt"] == 0, f"none failed: {totals['failed']}"),
        (
            bool(verify.get("ok")) and verify.get("found_exactly_once") == totals["committed"],
            f"exactly once: {verify.get('found_exactly_once')} of {totals['committed']} found"
            f" once, lost {verify.get('lost')}, duplicated {verify.get('duplicated')}",
        ),
    ]
    print(
        f"{args.orders} orders in runs of {args.batch_size}, {args.concurrency} in flight: "
        f"{rate:,.1f} committed orders/s over {stress['duration_s']:.1f} s; floor (empty "
        f"3-task DAG) {floor_rate:.2f} runs/s -> {rate / floor_rate:,.0f} x floor runs/s"
    )
    for ok, text in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return 0 if all(ok for ok, _ in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
