"""``make bench``: every benchmark, one after another, each printing its ratios and bars.

They run in sequence, never together: each pins its server and load generator to separate cores
and compares against a baseline measured in the same run, which only means something when no
other benchmark shares the machine. Exit status is non-zero when any benchmark missed a bar.
"""

from __future__ import annotations

import subprocess
import sys
import time

BENCHMARKS = (
    "benchmarks.node_throughput",
    "benchmarks.node_ingest",
    "benchmarks.stress_client",
    "benchmarks.controller_latency",
    "benchmarks.airflow_throughput",
    "benchmarks.airflow_stress",
)


def main() -> int:
    failed = []
    for module in BENCHMARKS:
        print(f"\n=== {module} ===", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, "-m", module])
        print(f"=== {module}: exit {code} after {time.monotonic() - started:.0f}s ===", flush=True)
        if code != 0:
            failed.append(module)
    if failed:
        print(f"benchmarks that missed a bar or failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
