"""Prometheus metrics of one node, in a registry of its own (one per app instance).

Names: ``warehouse_orders_total{home_region,outcome}`` (every order, either path),
``warehouse_bulk_requests_total{result}``, ``warehouse_bulk_orders_total{home_region,outcome}``,
``warehouse_bulk_request_orders``, ``warehouse_http_requests_total
{method,route,status}``, ``warehouse_http_request_duration_seconds{method,route}``,
``warehouse_http_requests_in_flight``, ``warehouse_orders_stored``, ``warehouse_db_size_bytes``,
``warehouse_db_commits_total``, ``warehouse_db_committed_orders_total``,
``warehouse_db_commit_duration_seconds``, ``warehouse_health_status{status}``,
``warehouse_build_info{version,region,python}``, ``warehouse_tls_reloads_total{outcome}``,
``process_*`` and ``python_info``;
with a replica: ``warehouse_replication_lag_seconds``, ``warehouse_replication_lag_transactions``,
``warehouse_replication_healthy``, ``warehouse_replication_errors_total``,
``warehouse_replication_sync_duration_seconds{confirmed}``.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, get_args

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from order_contracts.health import HealthStatus
from order_contracts.metrics import part_registry

BULK_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


class ReplicationState(Protocol):
    """What a primary's Replicator and a follower both expose to metrics."""

    healthy: bool
    errors: int

    @property
    def lag_seconds(self) -> float: ...

    @property
    def lag_transactions(self) -> int: ...


#: every ``status`` label of ``warehouse_health_status`` (order_contracts.health.HealthStatus)
HEALTH_STATES: tuple[HealthStatus, ...] = get_args(HealthStatus)

#: every ``outcome`` label of ``warehouse_orders_total``
ORDER_OUTCOMES = ("created", "duplicate", "conflict", "rejected", "error")

#: every ``outcome`` label of ``warehouse_tls_reloads_total``
TLS_RELOAD_OUTCOMES = ("loaded", "refused")

#: the routes that take orders (their latency series exist from the start)
ORDER_ROUTES = ("/order", "/orders")

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _CommitCollector(Collector):
    """Reads the store's group-commit counters at scrape time (they live in the writer thread)."""

    def __init__(self, read: Callable[[], tuple[int, int]]):
        self._read = read

    def collect(self):  # type: ignore[no-untyped-def]
        commits, rows = self._read()
        yield CounterMetricFamily(
            "warehouse_db_commits", "Group commits of the order writer", value=commits
        )
        yield CounterMetricFamily(
            "warehouse_db_committed_orders",
            "Orders (new and replays) settled by group commits",
            value=rows,
        )


class _ReadFailureCollector(Collector):
    """Reads that failed or rows skipped as damaged (the store counts them; read at scrape)."""

    def __init__(self, read: Callable[[], int]):
        self._read = read

    def collect(self):  # type: ignore[no-untyped-def]
        yield CounterMetricFamily(
            "warehouse_db_read_failures",
            "Order reads that failed or rows skipped because the database is damaged there",
            value=self._read(),
        )


class _ReplicationCollector(Collector):
    """Reads the replicator's state at scrape time (the event loop keeps it current)."""

    def __init__(self, replicator: ReplicationState):
        self._replicator = replicator

    def collect(self):  # type: ignore[no-untyped-def]
        r = self._replicator
        yield GaugeMetricFamily(
            "warehouse_replication_lag_seconds",
            "Age of the oldest local commit the replica is not known to hold (0 = caught up)",
            value=r.lag_seconds,
        )
        yield GaugeMetricFamily(
            "warehouse_replication_lag_transactions",
            "Litestream transactions committed locally but not yet on the replica",
            value=r.lag_transactions,
        )
        yield GaugeMetricFamily(
            "warehouse_replication_healthy",
            "1 while the last replica sync succeeded, else 0",
            value=1.0 if r.healthy else 0.0,
        )
        yield CounterMetricFamily(
            "warehouse_replication_errors",
            "Replica syncs that failed or timed out, and Litestream exits",
            value=r.errors,
        )


class NodeMetrics:
    def __init__(self, region: str, version: str, home_regions: Sequence[str] = ()):
        """``home_regions``: the configured regions, whose order series start at 0 so that
        ``rate()``/``increase()`` count a region's very first order too (a series born at 1
        loses it)."""
        self.registry = part_registry()  # process_*, python_info; no *_created series
        r = self.registry
        self.orders = Counter(
            "warehouse_orders",
            "Order outcomes (POST /order and each order of POST /orders) by home region",
            ["home_region", "outcome"],
            registry=r,
        )
        for home in home_regions:
            for outcome in ORDER_OUTCOMES:
                self.orders.labels(home, outcome)
        self.bulk_requests = Counter(
            "warehouse_bulk_requests",
            "POST /orders requests: answered per order (accepted) or refused as a whole",
            ["result"],
            registry=r,
        )
        self.bulk_orders = Counter(
            "warehouse_bulk_orders",
            "Outcomes of the orders that came in POST /orders, by home region",
            ["home_region", "outcome"],
            registry=r,
        )
        self.bulk_size = Histogram(
            "warehouse_bulk_request_orders",
            "Orders per accepted POST /orders request",
            buckets=BULK_BUCKETS,
            registry=r,
        )
        # TLS certificate renewals picked up without a restart (tls.TlsReloader)
        self.tls_reloads = Counter(
            "warehouse_tls_reloads",
            "Renewed TLS certificate files: loaded into the live server, or refused",
            ["outcome"],
            registry=r,
        )
        for outcome in TLS_RELOAD_OUTCOMES:
            self.tls_reloads.labels(outcome=outcome)
        self.requests = Counter(
            "warehouse_http_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "warehouse_http_request_duration_seconds",
            "Time from request start to the last response byte",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        for path in ORDER_ROUTES:  # from 0 too: a p99 over the first seconds sees every order
            self.latency.labels("POST", path)
        self.in_flight = Gauge(
            "warehouse_http_requests_in_flight", "Requests being served now", registry=r
        )
        self.stored = Gauge("warehouse_orders_stored", "Orders stored on this shard", registry=r)
        self.db_size = Gauge(
            "warehouse_db_size_bytes", "SQLite database plus WAL size on disk", registry=r
        )
        self.commit_seconds = Histogram(
            "warehouse_db_commit_duration_seconds",
            "Time one group commit (COMMIT with its fsync) took",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.health = Gauge(
            "warehouse_health_status",
            "1 for the status GET /health answers now (ok, degraded, down), 0 for the others",
            ["status"],
            registry=r,
        )
        self._health_children = {s: self.health.labels(s) for s in HEALTH_STATES}
        build = Gauge(
            "warehouse_build_info",
            "Always 1; labels say what is running",
            ["version", "region", "python"],
            registry=r,
        )
        build.labels(version, region, platform.python_version()).set(1)
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_bulk(self, size: int, outcomes: Mapping[tuple[str, str], int]) -> None:
        """One accepted bulk request: ``outcomes`` counts its orders by (home region, outcome)."""
        self.bulk_requests.labels("accepted").inc()
        self.bulk_size.observe(size)
        for (region, outcome), n in outcomes.items():
            self.orders.labels(region, outcome).inc(n)
            self.bulk_orders.labels(region, outcome).inc(n)

    def set_health(self, status: HealthStatus) -> None:
        """Called at each scrape with what ``GET /health`` would answer at that moment."""
        for state, child in self._health_children.items():
            child.set(1.0 if state == status else 0.0)

    def observe_commit(self, seconds: float, orders: int) -> None:
        self.commit_seconds.observe(seconds)

    def bind_replication(self, replicator: ReplicationState) -> None:
        self.sync_seconds = Histogram(
            "warehouse_replication_sync_duration_seconds",
            "One replica sync round (POST /sync with wait), by whether it confirmed the commits",
            ["confirmed"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._sync_children = {
            True: self.sync_seconds.labels("true"),
            False: self.sync_seconds.labels("false"),
        }
        self.registry.register(_ReplicationCollector(replicator))

    def observe_sync(self, seconds: float, confirmed: bool) -> None:
        children = getattr(self, "_sync_children", None)
        if children is not None:
            children[confirmed].observe(seconds)

    def bind_store(
        self,
        count: Callable[[], int],
        size: Callable[[], int],
        commits: Callable[[], tuple[int, int]],
    ) -> None:
        self.stored.set_function(lambda: float(count()))
        self.db_size.set_function(lambda: float(size()))
        self.registry.register(_CommitCollector(commits))

    def bind_read_failures(self, read: Callable[[], int]) -> None:
        self.registry.register(_ReadFailureCollector(read))
