"""Controller reaction time: EndpointSlice change → routing ConfigMap updated.

One command (``python -m benchmarks.controller_latency``) starts kmock's Kubernetes emulator and
the real controller (kopf, in a thread), creates three regions, then flips one region's ready
endpoints between 1 and 0 ``--changes`` times, timing each PATCH → the ConfigMap saying so.

Baseline, same run, same API server: a bare PATCH of a ConfigMap followed by the first poll
that sees it (what "visible" costs without any controller). Reported: latency percentiles,
the ratio p50 / baseline p50, and the issue's bar (every change in the document within 1 s).
It also counts ConfigMap writes during ``--noise`` changes that alter nothing routing-relevant
(expected: 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import kmock as km
import kubernetes.config.kube_config

from localmode.kube_emulator import (
    CONFIGMAPS,
    SERVICES,
    SLICES,
    OperatorThread,
    controller_config,
    endpoint_slice,
    open_cluster,
    service,
    write_kubeconfig,
)

REGIONS = {"HCM": "orders-warehouse-hcm", "HN": "orders-warehouse-hn", "DN": "orders-warehouse-dn"}
POLL = 0.001


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> float:
    """Seconds until ``condition`` holds (polled every millisecond on the server's loop)."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            raise TimeoutError("condition not met")
        await asyncio.sleep(POLL)
    return time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(changes: int, noise: int) -> dict[str, object]:
    async with km.KubernetesEmulator() as mock, km.Server(mock):
        with tempfile.TemporaryDirectory() as tmp:
            kubeconfig = write_kubeconfig(Path(tmp) / "kubeconfig", str(mock.url))
            kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(kubeconfig)
            async with aiohttp.ClientSession(base_url=str(mock.url)) as http:
                cluster = await open_cluster(mock, http)

                # Baseline: a bare PATCH and the first poll that sees it.
                probe = {"apiVersion": "v1", "kind": "ConfigMap"}
                probe["metadata"] = {"name": "probe", "namespace": "orders"}  # type: ignore[assignment]
                probe["data"] = {"n": "0"}  # type: ignore[assignment]
                await cluster.create(CONFIGMAPS, probe)
                baseline = []
                for n in range(1, changes + 1):

                    def seen(n: int = n) -> bool:
                        body = cluster.object(CONFIGMAPS, "probe") or {}
                        return bool(body.get("data", {}).get("n") == str(n))

                    start = time.perf_counter()
                    await cluster.patch(CONFIGMAPS, "probe", {"data": {"n": str(n)}})
                    baseline.append(time.perf_counter() - start + await until(seen))

                for region, name in REGIONS.items():
                    await cluster.create(SERVICES, service(region))
                    await cluster.create(SLICES, endpoint_slice(name, 1, not_ready=1))
                operator = await OperatorThread(controller_config(resync_seconds=5.0)).start()
                try:
                    await until(
                        lambda: (doc := cluster.routing()) is not None and len(doc.regions) == 3
                    )
                    await until(
                        lambda: cluster.watchers(SERVICES) == 1 and cluster.watchers(SLICES) == 1
                    )
                    latencies = []
                    for n in range(changes):
                        ready = n % 2  # 0, 1, 0, ...
                        endpoints = endpoint_slice(REGIONS["DN"], ready, not_ready=2 - ready)
                        generation = cluster.routing().generation  # type: ignore[union-attr]

                        def updated(ready: int = ready, generation: int = generation) -> bool:
                            doc = cluster.routing()
                            return (
                                doc is not None
                                and doc.generation > generation
                                and doc.regions["DN"].ready_endpoints == ready
                            )

                        start = time.perf_counter()
                        await cluster.patch(
                            SLICES, f"{REGIONS['DN']}-abcde", {"endpoints": endpoints["endpoints"]}
                        )
                        latencies.append(time.perf_counter() - start + await until(updated))

                    writes_before = cluster.configmap_writes()
                    for n in range(noise):
                        moved = endpoint_slice(REGIONS["HCM"], 1, not_ready=1)["endpoints"]
                        moved[0]["targetRef"]["name"] = f"moved-{n}"
                        await cluster.patch(SLICES, f"{REGIONS['HCM']}-abcde", {"endpoints": moved})
                    await asyncio.sleep(1.0)  # give any (wrong) write time to land before counting
                    noise_writes = cluster.configmap_writes() - writes_before
                finally:
                    await operator.stop()

    base_p50 = statistics.median(baseline)
    p50 = statistics.median(latencies)
    return {
        "changes": changes,
        "controller_ms": {
            "p50": round(p50 * 1000, 2),
            "p95": round(percentile(latencies, 0.95) * 1000, 2),
            "max": round(max(latencies) * 1000, 2),
        },
        "baseline_patch_visible_ms": {
            "p50": round(base_p50 * 1000, 2),
            "p95": round(percentile(baseline, 0.95) * 1000, 2),
        },
        "ratio_p50_vs_baseline": round(p50 / base_p50, 1),
        "within_1s": all(latency < 1.0 for latency in latencies),
        "noise_changes": noise,
        "configmap_writes_during_noise": noise_writes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--changes", type=int, default=40, help="readiness flips to time")
    parser.add_argument("--noise", type=int, default=20, help="irrelevant changes to count")
    args = parser.parse_args(argv)
    report = asyncio.run(measure(args.changes, args.noise))
    print(json.dumps(report, indent=2))
    return 0 if report["within_1s"] and report["configmap_writes_during_noise"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
