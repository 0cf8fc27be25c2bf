"""``GET /metrics``: Prometheus text format from this app's own registry."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..deps import NodeDep

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
async def metrics(node: NodeDep) -> Response:
    """Every metric of this node (docs/observability.md lists them)."""
    return Response(generate_latest(node.metrics.registry), media_type=CONTENT_TYPE_LATEST)
