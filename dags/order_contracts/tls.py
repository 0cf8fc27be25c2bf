"""Which certificates a client of the nodes trusts: one rule for every part.

The DAG, the stress tool, the routing source, the controller's health checks and local mode all
talk to nodes; when the nodes serve HTTPS (docs/tls.md) each of them must trust the same CA, so
the bundle is one environment variable (``ORDER_CA_BUNDLE``) read here, never per part.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping

from .envvars import ORDER_CA_BUNDLE, ConfigError


def ca_bundle(env: Mapping[str, str] | None = None) -> str:
    """The CA bundle path from ``ORDER_CA_BUNDLE``, or ``""`` for the default trust store."""
    return (os.environ if env is None else env).get(ORDER_CA_BUNDLE, "").strip()


def ssl_context(env: Mapping[str, str] | None = None) -> ssl.SSLContext:
    """A verifying client context: the bundle's CAs when set, else the system's trust store.

    A bundle that is missing or holds no certificate is a :class:`ConfigError` naming the
    variable, so a part stops at start with one line instead of failing every request later.
    """
    bundle = ca_bundle(env)
    if not bundle:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{ORDER_CA_BUNDLE}: cannot load CA bundle {bundle!r}: {exc}") from None


def httpx_verify(env: Mapping[str, str] | None = None) -> ssl.SSLContext | bool:
    """The ``verify=`` value for an httpx client that talks to nodes.

    Without ``ORDER_CA_BUNDLE`` it is ``True`` (httpx's default trust), so plain-HTTP setups
    behave exactly as before; with it, a context that trusts the bundle's CAs.
    """
    return ssl_context(env) if ca_bundle(env) else True
