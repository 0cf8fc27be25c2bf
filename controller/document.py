"""Observations + what the ConfigMap says now → the routing document to write, if any.

The document itself is built by :func:`order_contracts.routing.build_routing_document`; this
module only decides *whether* to write and keeps ``generation`` moving forward even when the
ConfigMap was deleted or hand-edited into something unreadable.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime

from pydantic import ValidationError

from order_contracts.routing import RegionObservation, RoutingDocument, build_routing_document


def parse_document(text: str | None) -> RoutingDocument | None:
    """The document in ``text``, or None when it is missing or not a valid routing document."""
    if not text:
        return None
    try:
        return RoutingDocument.from_json(text)
    except (ValidationError, ValueError):
        return None


def loose_generation(text: str | None) -> int:
    """The ``generation`` of a document that fails validation, when it still has one."""
    try:
        value = json.loads(text or "").get("generation", 0)
    except (ValueError, AttributeError):
        return 0
    return value if isinstance(value, int) and value > 0 else 0


def desired_document(
    observed: Iterable[RegionObservation],
    proximity: Mapping[str, list[list[str]]],
    current_text: str | None,
    known_generation: int = 0,
    now: datetime | None = None,
) -> RoutingDocument | None:
    """The document to write, or None when ``current_text`` already says the same.

    ``known_generation`` is the highest generation this controller has seen: a ConfigMap that
    was deleted or broken by hand is rewritten *above* it, never back at generation 1.
    """
    previous = parse_document(current_text)
    if previous is not None:
        document = build_routing_document(observed, proximity, previous, now)
        if document is previous:
            return None
        if document.generation <= known_generation:
            document = document.model_copy(update={"generation": known_generation + 1})
        return document
    floor = max(known_generation, loose_generation(current_text))
    fresh = build_routing_document(observed, proximity, None, now)
    return fresh.model_copy(update={"generation": floor + 1})


def _readiness(document: RoutingDocument | None, region: str) -> str:
    route = document.regions.get(region) if document else None
    if route is None:
        return "absent"
    return f"{'ready' if route.ready else 'NOT READY'}({route.ready_endpoints})"


def describe_change(before: RoutingDocument | None, after: RoutingDocument) -> str:
    """One log line: the generation step and each region's readiness before → after."""
    regions = sorted(set(after.regions) | set(before.regions if before else ()))
    parts = [f"{r} {_readiness(before, r)} -> {_readiness(after, r)}" for r in regions]
    start = before.generation if before else "none"
    return f"routing generation {start} -> {after.generation}: " + "; ".join(parts)
