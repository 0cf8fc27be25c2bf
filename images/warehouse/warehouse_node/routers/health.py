"""``GET /health``: what the routing decision reads. Memory only: no query on a probe."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from order_contracts.health import Health, HealthStatus

from .. import __version__
from ..deps import NodeDep

router = APIRouter(tags=["health"])


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
    status: HealthStatus = "ok"
    if request.app.state.draining or not store.is_open or store.lost is not None:
        status = "down"
    elif current >= 1.0 or not store.healthy:
        status = "degraded"
    replicator = node.replicator or node.follower
    if status == "ok" and replicator is not None and not replicator.healthy:
        status = "degraded"
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
