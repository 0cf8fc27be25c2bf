"""``GET /health``: what the routing decision reads. Memory only: no query on a probe."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response

from order_contracts.health import Health, HealthStatus

from .. import __version__
from ..deps import Node, NodeDep

router = APIRouter(tags=["health"])


def current_status(app: FastAPI, node: Node) -> HealthStatus:
    """ok; degraded when overloaded (load >= 1), the last database write failed or the replica
    is not being written; down when the store is not open, has lost its database file, or the
    node is draining. ``/health`` and ``warehouse_health_status`` both read it."""
    store = node.store
    if app.state.draining or not store.is_open or store.lost is not None:
        return "down"
    if node.load.load() >= 1.0 or not store.healthy:
        return "degraded"
    replicator = node.replicator or node.follower
    if replicator is not None and not replicator.healthy:
        return "degraded"
    return "ok"


@router.get(
    "/health",
    responses={200: {"model": Health}, 503: {"model": Health, "description": "down"}},
)
async def health(request: Request, node: NodeDep) -> Response:
    """ok; degraded when overloaded (load >= 1), the last database write failed or the replica
    is not being written; down (503) when the store is not open, has lost its database file,
    or the node is draining."""
    store, load = node.store, node.load
    current = load.load()
    status = current_status(request.app, node)
    replicator = node.replicator or node.follower
    report = Health(
        status=status,
        region=node.settings.region,
        orders=store.count,
        in_flight=load.in_flight,
        recent_rps=round(load.recent_rps(), 2),
        load=round(current, 3),
        version=__version__,
        database="ok" if store.healthy else (store.last_error or store.read_error or "closed"),
        role=node.settings.role,
        replication=replicator.report() if replicator is not None else {"mode": "off"},
    )
    return Response(
        report.model_dump_json(),
        status_code=503 if status == "down" else 200,
        media_type="application/json",
    )
