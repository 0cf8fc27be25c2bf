"""httpx clients for the nodes, without paying for TLS when no node URL needs it.

An ``httpx.Client`` loads the system's CA bundle when it is made (~20-80 ms of CPU). A task
process makes one or two clients and lives for one task, so in per-order mode that cost lands
on every run. Local and in-cluster node URLs are plain ``http://``; only when one of them is
``https://`` is the verifying context built, trusting ``ORDER_CA_BUNDLE`` when it is set
(order_contracts.tls, docs/tls.md).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpx

from order_contracts import tls


def needs_tls(urls: Iterable[str | None]) -> bool:
    return any(url is not None and url.lower().startswith("https://") for url in urls)


def client(urls: Iterable[str | None], **kwargs: Any) -> httpx.Client:
    """A client for requests to ``urls`` only (a bare TLS context when none is https).

    With TLS required (``ORDER_CA_BUNDLE`` set, docs/tls.md) an ``http://`` URL among them is a
    :class:`ConfigError` before anything is sent: the node token never travels in clear.
    """
    present = [url for url in urls if url is not None]
    tls.refuse_plain_http(present)
    if not needs_tls(present):
        # Never used for a handshake: every URL is http. No CA bundle to load.
        kwargs.setdefault("verify", ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    else:
        kwargs.setdefault("verify", tls.httpx_verify())
    return httpx.Client(**kwargs)
