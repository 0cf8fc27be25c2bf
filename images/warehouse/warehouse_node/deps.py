"""Dependencies shared by the routers: the node's parts, and the same behind auth.

Both are ``async def`` although neither awaits: FastAPI runs plain ``def`` dependencies in a
worker thread, which on the order hot path cost more than validating the order. The node's
parts come as one object (one dependency to solve per request, not one per part).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from .follower import FollowerReplication
from .load import LoadTracker
from .metrics import NodeMetrics
from .replication import Replicator
from .settings import NodeSettings
from .store import OrderStore


@dataclass(frozen=True)
class Node:
    """What a request handler may use: set up once by ``create_app``."""

    settings: NodeSettings
    regions: tuple[str, ...]
    store: OrderStore
    load: LoadTracker
    metrics: NodeMetrics
    token: bytes
    replicator: Replicator | None = None
    follower: FollowerReplication | None = None


async def get_node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


async def authorized_node(request: Request) -> Node:
    """The node, for a caller that proved it may use the orders API.

    With ``NODE_API_TOKEN`` set that takes ``Authorization: Bearer <token>``, compared with
    ``hmac.compare_digest`` so the time taken does not reveal how much matched. Auth and the
    node's parts are one dependency: FastAPI's dependency solving is a measurable part of
    each order's cost, so the order routes solve one, not two.
    """
    node: Node = request.app.state.node
    if not node.token:
        return node
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    presented = given.strip().encode() if scheme.lower() == "bearer" else b""
    if not hmac.compare_digest(presented, node.token):
        raise HTTPException(
            401,
            "missing or wrong bearer token (Authorization: Bearer <NODE_API_TOKEN>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return node


NodeDep = Annotated[Node, Depends(get_node)]
AuthorizedNodeDep = Annotated[Node, Depends(authorized_node)]
