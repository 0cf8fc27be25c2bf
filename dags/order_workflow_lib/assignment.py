"""The assign step: which warehouse takes each order, and why.

The decision itself is ``order_contracts.routing.assign_warehouse`` (home region → readiness →
health → fallback tiers → load), shared with every other part. This module supplies what it
needs in a DAG run: the routing document (``order_contracts.source``) and a ``/health`` probe
that asks each node at most once per run, so a batch of 500 orders costs a handful of probes.
Orders of one home region share one decision.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any, TypedDict

import httpx

from order_contracts.health import Health, read_health_answer
from order_contracts.routing import (
    Assignment,
    NoWarehouseAvailable,
    RoutingDocument,
    assign_warehouse,
)

from . import http

log = logging.getLogger(__name__)


def read_health(client: httpx.Client, url: str) -> Health | None:
    """The node's own report, or None when it cannot be reached or answers nonsense
    (:func:`order_contracts.health.read_health_answer`, every part's reader)."""
    try:
        response = client.get(f"{url.rstrip('/')}/health")
    except httpx.HTTPError:
        return None
    return read_health_answer(response.status_code, response.content)


class MemoProbe:
    """A :data:`~order_contracts.routing.HealthProbe` that asks each URL once (thread-safe)."""

    def __init__(self, timeout: float):
        self._timeout = timeout
        # made on the first probe (most process tries probe nothing); one per http / https
        self._clients: dict[bool, httpx.Client] = {}
        self._seen: dict[str, Health | None] = {}
        self._lock = threading.Lock()

    def __call__(self, region: str, url: str) -> Health | None:
        with self._lock:
            if url in self._seen:
                return self._seen[url]
            tls = http.needs_tls([url])
            if tls not in self._clients:
                self._clients[tls] = http.client([url], timeout=self._timeout)
            client = self._clients[tls]
        health = read_health(client, url)
        with self._lock:
            self._seen.setdefault(url, health)
            return self._seen[url]

    def is_down(self, region: str, url: str) -> bool:
        health = self(region, url)
        return health is None or health.status == "down"

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def __enter__(self) -> MemoProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Decision(TypedDict):
    """A home region's decision as the assign task's XCom carries it."""

    home_region: str
    region: str | None
    url: str | None
    fallback_used: bool
    reason: str


def to_decision(assignment: Assignment) -> Decision:
    return Decision(
        home_region=assignment.home_region,
        region=assignment.region,
        url=assignment.url,
        fallback_used=assignment.fallback_used,
        reason=assignment.reason,
    )


def decide(
    document: RoutingDocument,
    home_region: str,
    probe: MemoProbe,
    exclude: Iterable[str] = (),
) -> Decision:
    """One region's decision; an unroutable region is a decision too (region None, why)."""
    try:
        return to_decision(assign_warehouse(document, home_region, probe, exclude=set(exclude)))
    except NoWarehouseAvailable as exc:
        return Decision(
            home_region=home_region, region=None, url=None, fallback_used=False, reason=str(exc)
        )


def plan(
    document: RoutingDocument, orders: Iterable[dict[str, Any]], probe: MemoProbe
) -> dict[str, Decision]:
    """A decision for every home region among ``orders``, each logged with its reason."""
    decisions: dict[str, Decision] = {}
    counts: dict[str, int] = {}
    for order in orders:
        counts[order["region"]] = counts.get(order["region"], 0) + 1
    for home in sorted(counts):
        decision = decisions[home] = decide(document, home, probe)
        log.info(
            "assign %d %s order(s) to %s: %s",
            counts[home],
            home,
            decision["region"] or "nobody (retried by the process task)",
            decision["reason"],
            extra={"routing_generation": document.generation, **decision},
        )
    return decisions
