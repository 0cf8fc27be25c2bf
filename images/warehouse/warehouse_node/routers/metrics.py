"""``GET /metrics``: Prometheus text format from this app's own registry."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..deps import NodeDep

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response)
async def metrics(node: NodeDep) -> Response:
    return Response(generate_latest(node.metrics.registry), media_type=CONTENT_TYPE_LATEST)
