"""``POST /order`` in front of FastAPI (warehouse_node.fastpath) answers exactly as the route does.

The same requests go to two real apps over real stores in ``tmp_path``, one with the fast path
and one leaving ``POST /order`` to FastAPI's routing; every status, body (``created_at`` aside),
``WWW-Authenticate``/``Retry-After`` header and request-metric label must match.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from warehouse_node.app import create_app
from warehouse_node.fastpath import OrderFastPath
from warehouse_node.settings import NodeSettings

TOKEN = "s3cret-token"
GOOD = {"order_id": "fp-1", "customer_name": "Nguyen Van A", "region": "HCM"}
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
CASES: list[tuple[str, dict[str, str], bytes]] = [
    ("new", AUTH, json.dumps(GOOD).encode()),
    ("replay", AUTH, json.dumps(GOOD).encode()),
    ("conflict", AUTH, json.dumps({**GOOD, "customer_name": "Tran Thi B"}).encode()),
    ("fallback", AUTH, json.dumps({**GOOD, "order_id": "fp-2", "region": "HN"}).encode()),
    ("bad json", AUTH, b'{"order_id": '),
    ("not an object", AUTH, b"[1, 2]"),
    ("unknown region", AUTH, json.dumps({**GOOD, "order_id": "fp-3", "region": "XX"}).encode()),
    ("missing field", AUTH, json.dumps({"order_id": "fp-4"}).encode()),
    ("no token", {"Content-Type": "application/json"}, json.dumps(GOOD).encode()),
    ("wrong token", {**AUTH, "Authorization": "Bearer nope"}, json.dumps(GOOD).encode()),
    ("too large", AUTH, b'{"order_id": "' + b"x" * 70_000 + b'"}'),
]


def _settings(data: Path) -> NodeSettings:
    return NodeSettings(
        NODE_REGION="HCM",
        HOST="127.0.0.1",
        PORT=1,
        DATA_DIR=data,
        NODE_API_TOKEN=TOKEN,
        ORDER_REGIONS="HCM,HN,DN",
        NODE_MAX_BODY_BYTES=65536,
    )


def _comparable(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    for part in (body, body.get("stored") if isinstance(body, dict) else None):
        if isinstance(part, dict):
            part.pop("created_at", None)
    headers = {k: response.headers.get(k) for k in ("www-authenticate", "retry-after")}
    return {"status": response.status_code, "body": body, "headers": headers}


async def _answers(app: FastAPI) -> tuple[list[dict[str, Any]], str]:
    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://node")
    async with app.router.lifespan_context(app), client as http:
        answers = []
        for _, headers, body in CASES:
            response = await http.post("/order", content=body, headers=headers)
            answers.append(_comparable(response))
        metrics = (await http.get("/metrics")).text
    return answers, metrics


def test_fast_path_answers_like_the_fastapi_route(tmp_path: Path) -> None:
    fast_app = create_app(_settings(tmp_path / "fast"))
    routed_app = create_app(_settings(tmp_path / "routed"), fast_path=False)
    assert any(m.cls is OrderFastPath for m in fast_app.user_middleware)
    assert not any(m.cls is OrderFastPath for m in routed_app.user_middleware)
    fast, fast_metrics = asyncio.run(_answers(fast_app))
    routed, routed_metrics = asyncio.run(_answers(routed_app))
    for (name, _, _), got, expected in zip(CASES, fast, routed, strict=True):
        assert got == expected, name
    statuses = [a["status"] for a in fast]
    assert statuses == [201, 200, 409, 201, 422, 422, 422, 422, 401, 401, 413]
    for metrics in (fast_metrics, routed_metrics):
        # (a 413 by Content-Length is answered before routing, on either path: "unmatched")
        for status in ("201", "200", "409", "422", "401"):
            labels = f'method="POST",route="/order",status="{status}"'
            assert f"warehouse_http_requests_total{{{labels}}}" in metrics, (status, metrics)
        assert 'warehouse_orders_total{home_region="HCM",outcome="created"} 1.0' in metrics
        assert 'warehouse_orders_total{home_region="HN",outcome="created"} 1.0' in metrics
