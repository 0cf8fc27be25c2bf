"""Dependencies shared by the routers: the settings, the store, the load tracker, and auth."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .load import LoadTracker
from .metrics import NodeMetrics
from .settings import NodeSettings
from .store import OrderStore

_bearer = HTTPBearer(auto_error=False, description="NODE_API_TOKEN, when the node has one")


def get_settings(request: Request) -> NodeSettings:
    settings: NodeSettings = request.app.state.settings
    return settings


def get_store(request: Request) -> OrderStore:
    store: OrderStore = request.app.state.store
    return store


def get_load(request: Request) -> LoadTracker:
    load: LoadTracker = request.app.state.load
    return load


def get_metrics(request: Request) -> NodeMetrics:
    metrics: NodeMetrics = request.app.state.metrics
    return metrics


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """With ``NODE_API_TOKEN`` set, orders need ``Authorization: Bearer <token>``.

    Compared with ``hmac.compare_digest`` so the time taken does not reveal how much matched.
    """
    expected: bytes = request.app.state.token
    if not expected:
        return
    given = credentials.credentials.encode() if credentials else b""
    if not hmac.compare_digest(given, expected):
        raise HTTPException(
            401,
            "missing or wrong bearer token (Authorization: Bearer <NODE_API_TOKEN>)",
            headers={"WWW-Authenticate": "Bearer"},
        )


SettingsDep = Annotated[NodeSettings, Depends(get_settings)]
StoreDep = Annotated[OrderStore, Depends(get_store)]
LoadDep = Annotated[LoadTracker, Depends(get_load)]
MetricsDep = Annotated[NodeMetrics, Depends(get_metrics)]
