"""The HTTP client the stress tool uses for nodes: aiohttp with keep-alive connection pools.

aiohttp (C HTTP parser) sustains many times the requests per second of httpx on one core (see
``benchmarks/stress_client.py``), which is what keeps the tool from being the bottleneck.
"""

from __future__ import annotations

import aiohttp

from order_contracts import tls


def auth_headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def client_session(
    connections: int,
    timeout: float,
    token: str | None,
    headers: dict[str, str] | None = None,
) -> aiohttp.ClientSession:
    """One pool per run: ``connections`` keep-alive sockets in all, reused across orders.

    Headers every request carries are set once here (aiohttp merges per-request headers into
    the session's on every call otherwise).
    """
    connector = aiohttp.TCPConnector(
        limit=max(1, connections),
        limit_per_host=0,
        ttl_dns_cache=300,
        # https:// nodes are verified against ORDER_CA_BUNDLE (docs/tls.md); the same value
        # httpx takes as verify= is what aiohttp takes as ssl=.
        ssl=tls.httpx_verify(),
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 5.0)),
        headers=auth_headers(token) | (headers or {}),
        raise_for_status=False,
        skip_auto_headers=("User-Agent",),
    )
