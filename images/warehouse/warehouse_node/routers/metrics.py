"""``GET /metrics``: Prometheus text format from this app's own registry."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..deps import NodeDep
from .health import current_status

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def metrics(request: Request, node: NodeDep) -> Response:
    """Every metric of this node (docs/observability.md lists them)."""
    node.metrics.set_health(current_status(request.app, node))
    return Response(generate_latest(node.metrics.registry), media_type=CONTENT_TYPE_LATEST)
