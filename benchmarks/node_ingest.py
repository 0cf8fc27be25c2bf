"""Benchmark (issue 12): a node's order intake against a bare uvicorn echo, same host, same run.

``.venv/bin/python -m benchmarks.node_ingest``

Measured in interleaved rounds (server pinned to one core, load generator to the other, as in
``benchmarks.node_throughput``):

- ``bare``: uvicorn (uvloop, httptools, the node's settings) serving a minimal ASGI app that
  reads the request body and answers the same bytes: no FastAPI, no parsing, no storage. The
  yardstick of the single-order bar, as issue 12 defines it;
- ``single``: the real durable node (WAL, ``synchronous=FULL``, group commits), ``POST /order``
  of one new order per request, 32 connections, the very bytes ``bare`` gets;
- ``routed``: the same node with ``POST /order`` left to FastAPI's routing (no fast path in
  front of it, ``benchmarks/node_servers.py --variant routed``): the before of the fast path;
- ``bulk``: the same node, ``POST /orders`` of ``--bulk`` new orders per request.

Bars: single >= 0.65 x bare (requests/s), single p99 <= 30 ms; bulk >= 20,000 orders/s and
>= 4 x single (orders/s). Every order of every run is checked stored exactly once (the node's
order count equals the orders sent, every answer a 2xx). Exit status 1 when a bar fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.node_throughput import cpu_seconds, pinned, start_server, stored_orders

Result = dict[str, Any]
VARIANTS = ("bare", "routed", "single", "bulk")
SERVER = {"bare": "bare", "routed": "routed", "single": "durable", "bulk": "durable"}
MODE = {"bare": "echo", "routed": "post", "single": "post", "bulk": "bulk"}


def load(port: int, variant: str, args: argparse.Namespace, prefix: str) -> Result:
    connections = args.bulk_connections if variant == "bulk" else args.connections
    argv = [
        sys.executable, "-m", "benchmarks.node_loadgen", "--port", str(port),
        "--mode", MODE[variant], "--connections", str(connections),
        "--duration", str(args.duration), "--warmup", str(args.warmup),
        "--prefix", prefix, "--bulk", str(args.bulk),
    ]  # fmt: skip
    out = subprocess.run(pinned(args.client_cpu, argv), capture_output=True, text=True, check=True)
    result: Result = json.loads(out.stdout)
    return result


def measure(variant: str, args: argparse.Namespace, work: Path, tag: str) -> Result:
    data = work / f"data-{variant}-{tag}"
    process, port = start_server(SERVER[variant], data, args.server_cpu, work / "logs")
    try:
        cpu_before = cpu_seconds(process.pid)
        result = load(port, variant, args, prefix=f"{variant}{tag}")
        per_request = result["bulk"]
        result["orders_per_s"] = result["rps"] * per_request
        result["cpu_us_per_order"] = (
            (cpu_seconds(process.pid) - cpu_before)
            / max(1, result["sent_total"] * per_request)
            * 1e6
        )
        if variant != "bare":
            result["stored"] = stored_orders(port)
            result["sent_orders"] = result["sent_total"] * per_request
    finally:
        process.stop(grace=30)
    result["variant"] = variant
    shutil.rmtree(data, ignore_errors=True)
    return result


def best(results: list[Result], variant: str) -> Result:
    return max((r for r in results if r["variant"] == variant), key=lambda r: r["rps"])


def report(results: list[Result], args: argparse.Namespace) -> bool:
    print(
        f"\n{'variant':<8} {'req/s':>9} {'orders/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'non-2xx':>8} {'cpu us/order':>12}  notes"
    )
    for r in results:
        notes = f"stored={r['stored']} sent={r['sent_orders']}" if "stored" in r else ""
        print(
            f"{r['variant']:<8} {r['rps']:>9.0f} {r['orders_per_s']:>9.0f} {r['p50_ms']:>8.2f}"
            f" {r['p99_ms']:>8.2f} {r['non_2xx']:>8} {r['cpu_us_per_order']:>12.1f}  {notes}"
        )
    bare, routed, single, bulk = (best(results, v) for v in VARIANTS)
    print(
        f"\nbest of {args.rounds} round(s) per variant; single/bare {args.connections} connections,"
        f" bulk {args.bulk_connections} connections x {args.bulk} orders; server on cpu"
        f" {args.server_cpu}, load generator on cpu {args.client_cpu};"
        f" load average {os.getloadavg()[0]:.2f}"
    )
    checks = [
        ("single / bare >= 0.65", single["rps"] / bare["rps"] >= 0.65,
         f"ratio {single['rps'] / bare['rps']:6.2f}"),
        ("single p99 <= 30 ms", single["p99_ms"] <= 30.0, f"p99 {single['p99_ms']:.2f} ms"),
        ("bulk >= 20,000 orders/s", bulk["orders_per_s"] >= 20_000,
         f"{bulk['orders_per_s']:.0f} orders/s"),
        ("bulk / single >= 4", bulk["orders_per_s"] / single["orders_per_s"] >= 4,
         f"ratio {bulk['orders_per_s'] / single['orders_per_s']:6.2f} (orders/s)"),
        ("every order stored once", all(
            r["stored"] == r["sent_orders"] and r["non_2xx"] == 0
            for r in results if "stored" in r
        ), "node count == orders sent, all 2xx"),
    ]  # fmt: skip
    print(
        f"  info  single / routed (fast path / FastAPI routing) {single['rps'] / routed['rps']:.2f}"
        f" x req/s; routed / bare {routed['rps'] / bare['rps']:.2f}"
    )
    ok = True
    for name, passed, figure in checks:
        ok &= passed
        print(f"  {'PASS' if passed else 'FAIL'}  {name:<26} {figure}")
    cpu = {v: sorted(r["cpu_us_per_order"] for r in results if r["variant"] == v) for v in VARIANTS}
    median = {v: values[len(values) // 2] for v, values in cpu.items()}
    print(
        "  info  server CPU per order, median of rounds: "
        + ", ".join(f"{v} {us:.1f} us" for v, us in median.items())
        + f" (single costs {median['single'] / median['bare']:.2f} x bare's CPU,"
        f" {median['single'] / median['routed']:.2f} x routed's)"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--bulk", type=int, default=1000, help="orders per POST /orders")
    parser.add_argument("--bulk-connections", type=int, default=4)
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (best kept)")
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--client-cpu", default="1")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="node-ingest-"))
    print(f"node ingest benchmark, work dir {work}, load average {os.getloadavg()[0]:.2f}")
    results: list[Result] = []
    try:
        for round_no in range(args.rounds):
            for variant in VARIANTS:
                result = measure(variant, args, work, f"r{round_no}")
                results.append(result)
                print(
                    f"  round {round_no + 1} {variant:<7} {result['rps']:8.0f} req/s"
                    f" {result['orders_per_s']:8.0f} orders/s",
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ok = report(results, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
