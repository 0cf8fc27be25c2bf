"""Orders, routing documents and node contents for tests that run the DAG or Airflow."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from order_contracts.regions import configured_proximity
from order_contracts.routing import RegionObservation, build_routing_document
from tests.conftest import RunningNode


def write_routing(
    path: Path,
    nodes: dict[str, str],
    ready: dict[str, bool] | None = None,
    read_urls: dict[str, list[str]] | None = None,
) -> Path:
    """A routing document for ``region → url``, built by the builder the controller uses."""
    ready, read_urls = ready or {}, read_urls or {}
    observations = [
        RegionObservation(
            region, url, 1 if ready.get(region, True) else 0, tuple(read_urls.get(region, ()))
        )
        for region, url in nodes.items()
    ]
    document = build_routing_document(observations, configured_proximity())
    path.write_text(document.to_json())
    return path


def order(region: str = "HCM", **extra: Any) -> dict[str, Any]:
    """A valid order with an id no other test uses."""
    return {
        "order_id": f"t-{region.lower()}-{uuid.uuid4().hex[:12]}",
        "customer_name": "Nguyen Van A",
        "region": region,
        **extra,
    }


def stored_ids(node: RunningNode, token: str | None = None) -> list[str]:
    """Every order id stored on ``node`` (all pages)."""
    ids: list[str] = []
    cursor: str | None = None
    with node.client(token) as client:
        while True:
            params: dict[str, Any] = {"limit": 1000}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/orders", params=params).raise_for_status().json()
            ids += [o["order_id"] for o in page["orders"]]
            cursor = page["next_cursor"]
            if not cursor:
                return ids
