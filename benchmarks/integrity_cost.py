"""Benchmark (issue 16): what the storage-integrity checks cost the node's ``POST /order``.

``.venv/bin/python -m benchmarks.integrity_cost`` (about 8 minutes at the default 16 pairs;
``--pairs``, ``--json F``)

Issue 16's bar: the node benchmark's figures do not drop by more than 5 % from its checks. Two
servers, started alternately (``--pairs`` times each, so drifting machine load hits both alike;
which goes first alternating), with the pinning, load generator and 32 connections of
``benchmarks.node_throughput``:

- ``durable``: the real node (``warehouse-node``), every check in place;
- ``unchecked``: the same node with the per-request checks taken out
  (``benchmarks/node_servers.py --variant unchecked``): the file-identity check after each
  group commit, the ``Content-Type`` check and the repeated-key check of the body.

Printed: the median req/s and server CPU per request of each, their ratios, and the median of
the pairwise req/s ratios. Every run's
orders must all be 201 and stored. Exit status 1 when ``durable`` / ``unchecked`` req/s is
below 0.95 or an order is missing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.node_throughput import measure

VARIANTS = ("durable", "unchecked")
BAR = 0.95


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per variant, their ratios and whether every order was stored."""
    median = {
        v: {
            "rps": statistics.median(r["rps"] for r in results if r["variant"] == v),
            "cpu_us_per_request": statistics.median(
                r["cpu_us_per_request"] for r in results if r["variant"] == v
            ),
            "p99_ms": statistics.median(r["p99_ms"] for r in results if r["variant"] == v),
        }
        for v in VARIANTS
    }
    return {
        "median": median,
        "rps_ratio": median["durable"]["rps"] / median["unchecked"]["rps"],
        "cpu_ratio": median["durable"]["cpu_us_per_request"]
        / median["unchecked"]["cpu_us_per_request"],
        "pairwise_rps_ratio": statistics.median(
            d["rps"] / u["rps"]
            for d, u in zip(
                (r for r in results if r["variant"] == "durable"),
                (r for r in results if r["variant"] == "unchecked"),
                strict=True,
            )
        ),
        "all_stored": all(r["stored"] == r["sent_total"] and r["non_2xx"] == 0 for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", type=int, default=16)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--client-cpu", default="1")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="integrity-cost-"))
    results = []
    try:
        for pair in range(args.pairs):
            # ABBA: which runs first alternates, so a drift in load favours neither.
            for variant in VARIANTS if pair % 2 == 0 else VARIANTS[::-1]:
                result = measure(variant, args, work, str(pair))
                results.append(result)
                print(
                    f"{variant:9} pair {pair + 1}: {result['rps']:8.0f} req/s, "
                    f"{result['cpu_us_per_request']:5.0f} µs CPU/request, "
                    f"p99 {result['p99_ms']:.1f} ms",
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures = summary(results)
    for variant, median in figures["median"].items():
        print(
            f"median {variant:9} {median['rps']:8.0f} req/s, "
            f"{median['cpu_us_per_request']:5.0f} µs CPU/request, p99 {median['p99_ms']:.1f} ms"
        )
    ok = figures["rps_ratio"] >= BAR and figures["all_stored"]
    print(
        f"durable / unchecked: {figures['rps_ratio']:.3f}x req/s (bar >= {BAR}), "
        f"{figures['cpu_ratio']:.3f}x CPU per request, pairwise median "
        f"{figures['pairwise_rps_ratio']:.3f}x req/s; every order stored: "
        f"{figures['all_stored']} — {'PASS' if ok else 'FAIL'}"
    )
    if args.json:
        args.json.write_text(json.dumps({"runs": results, **figures}, indent=2))
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
