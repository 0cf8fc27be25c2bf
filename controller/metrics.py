"""Prometheus metrics of one controller, served on ``METRICS_PORT`` at ``/metrics``.

Each controller gets its own registry, so two operators in one process (the peering tests)
report separately and nothing leaks into the process-wide default registry; it carries the
process metrics too (:func:`order_contracts.metrics.part_registry`).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, generate_latest, start_http_server

from order_contracts.metrics import part_registry


class Metrics:
    def __init__(self) -> None:
        self.registry = part_registry()
        self.reconciliations = Counter(
            "warehouse_controller_reconciliations",
            "Reconciliations of the routing ConfigMap, by outcome (created/patched/unchanged)",
            ["outcome"],
            registry=self.registry,
        )
        self.errors = Counter(
            "warehouse_controller_errors",
            "Reconciliations that failed (API errors); retried with backoff",
            registry=self.registry,
        )
        self.generation = Gauge(
            "warehouse_controller_routing_generation",
            "generation of the routing document in the ConfigMap, as last seen or written",
            registry=self.registry,
        )
        self.ready_regions = Gauge(
            "warehouse_controller_ready_regions",
            "regions with at least one ready endpoint, per the routing document",
            registry=self.registry,
        )
        self.regions = Gauge(
            "warehouse_controller_regions",
            "regions in the routing document",
            registry=self.registry,
        )
        self.leader = Gauge(
            "warehouse_controller_leader",
            "1 when this replica was the active one at its last check, else 0",
            registry=self.registry,
        )
        self._server: Any = None

    def serve(self, port: int, host: str = "0.0.0.0") -> None:
        """Start the ``/metrics`` HTTP endpoint in a daemon thread (port 0: do not serve)."""
        if port:
            self._server, _ = start_http_server(port, addr=host, registry=self.registry)

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def text(self) -> str:
        return generate_latest(self.registry).decode()
