"""Prometheus metrics of one controller, served on ``METRICS_PORT`` at ``/metrics``.

Each controller gets its own registry, so two operators in one process (the peering tests)
report separately and nothing leaks into the process-wide default registry; it carries the
process metrics too (:func:`order_contracts.metrics.part_registry`).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram, generate_latest, start_http_server

from order_contracts.metrics import part_registry
from order_contracts.routing import RoutingDocument

#: a pass is a read, maybe a listing and a patch: milliseconds normally, seconds on a slow API
RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


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
        self.region_ready = Gauge(
            "warehouse_controller_region_ready",
            "1 when the region is ready in the routing document, else 0 (one series per region)",
            ["region"],
            registry=self.registry,
        )
        self.reconcile_seconds = Histogram(
            "warehouse_controller_reconcile_duration_seconds",
            "Time one reconciliation pass took, failed passes included",
            buckets=RECONCILE_BUCKETS,
            registry=self.registry,
        )
        self.leader = Gauge(
            "warehouse_controller_leader",
            "1 when this replica was the active one at its last check, else 0",
            registry=self.registry,
        )
        self._regions_exported: set[str] = set()
        self._server: Any = None

    def observe_document(self, document: RoutingDocument) -> None:
        """The gauges of the document as last seen or written; a region that left is removed
        (a stale ``region_ready`` series would keep a not-ready alert firing for a gone region)."""
        self.generation.set(document.generation)
        self.ready_regions.set(len(document.ready_regions()))
        self.regions.set(len(document.regions))
        for region, state in document.regions.items():
            self.region_ready.labels(region).set(1 if state.ready else 0)
        for region in self._regions_exported - document.regions.keys():
            self.region_ready.remove(region)
        self._regions_exported = set(document.regions)

    def serve(
        self, port: int, host: str = "0.0.0.0", tls_cert: str = "", tls_key: str = ""
    ) -> None:
        """Start the ``/metrics`` endpoint in a daemon thread (port 0: do not serve); HTTPS
        only when a certificate pair is given (checked by the config, docs/tls.md)."""
        if port:
            self._server, _ = start_http_server(
                port,
                addr=host,
                registry=self.registry,
                certfile=tls_cert or None,
                keyfile=tls_key or None,
            )

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def text(self) -> str:
        return generate_latest(self.registry).decode()
