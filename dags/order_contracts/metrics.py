"""The registry every part's ``/metrics`` starts from: process metrics in, ``_created`` out.

Each part (node, controller, local routing source) keeps its own registry so that two of them in
one process (tests, benchmarks) never mix their series. A custom registry has none of
prometheus_client's default collectors, so :func:`part_registry` adds the two operators expect on
every process: ``process_*`` (CPU seconds, resident memory, open and max file descriptors, start
time) and ``python_info``. The ``*_created`` series every counter and histogram would carry are
switched off process-wide: they double the series count and no dashboard or alert reads them.

Not imported by the DAG (the official Airflow image needs nothing from prometheus_client).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, disable_created_metrics
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

__all__ = ["part_registry"]

disable_created_metrics()


def part_registry() -> CollectorRegistry:
    """A fresh registry carrying ``process_*`` and ``python_info`` of this process."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry
