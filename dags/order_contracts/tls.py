"""Which certificates a client of the nodes trusts: one rule for every part.

The DAG, the stress tool, the routing source, the controller's health checks and local mode all
talk to nodes; when the nodes serve HTTPS (docs/tls.md) each of them must trust the same CA, so
the bundle is one environment variable (``ORDER_CA_BUNDLE``) read here, never per part.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterable, Mapping

from .envvars import ORDER_CA_BUNDLE, ORDER_REQUIRE_TLS, ConfigError


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


def tls_required(env: Mapping[str, str] | None = None) -> bool:
    """Whether a client must refuse plain-HTTP node URLs (``ORDER_REQUIRE_TLS``).

    ``auto`` (the default) means "when ``ORDER_CA_BUNDLE`` is set": a client given a CA for
    the nodes is in a TLS deployment, where an ``http://`` node URL is a mistake (or an attacker's
    routing entry) that would carry the node token in clear.
    """
    env = os.environ if env is None else env
    raw = env.get(ORDER_REQUIRE_TLS, "").strip().lower() or "auto"
    if raw == "auto":
        return bool(ca_bundle(env))
    if raw in ("true", "1", "yes", "on"):
        return True
    if raw in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"{ORDER_REQUIRE_TLS}: {raw!r} is not one of auto, true, false")


def refuse_plain_http(urls: Iterable[str], env: Mapping[str, str] | None = None) -> None:
    """Raise :class:`ConfigError` naming the first ``http://`` URL when TLS is required.

    Called wherever a client takes node URLs (the routing document's reader, the DAG's node
    client), before any request: the node token is never sent over plain HTTP to a deployment
    that runs TLS.
    """
    if not tls_required(env):
        return
    for url in urls:
        if url.lower().startswith("http://"):
            raise ConfigError(
                f"{url} is plain HTTP while TLS is required ({ORDER_CA_BUNDLE} is set or "
                f"{ORDER_REQUIRE_TLS}=true): the node token is never sent over plain HTTP; "
                f"use https:// or set {ORDER_REQUIRE_TLS}=false"
            )


def check_server_pair(cert_file: str, key_file: str, cert_var: str, key_var: str) -> None:
    """Raise ``ValueError`` (one line naming the variables) unless both or neither are set and
    the pair loads.

    Servers load their pair late (uvicorn at start, ``http.server`` at the first handshake) and
    report a missing file or a mismatched key as a traceback; checking here first turns each
    into the part's one-line configuration error.
    """
    server_context(cert_file, key_file, cert_var, key_var)


def server_context(
    cert_file: str, key_file: str, cert_var: str, key_var: str
) -> ssl.SSLContext | None:
    """A server context holding the pair, None when neither is set; a ``ValueError`` naming
    the variables when only one is, a file is missing or the key is not the certificate's."""
    if not cert_file and not key_file:
        return None
    if not cert_file or not key_file:
        raise ValueError(f"{cert_var} and {key_var} must be set together")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert_file, key_file)
    except FileNotFoundError as exc:
        raise ValueError(f"TLS file not found: {exc.filename}") from None
    # ssl.SSLError is an OSError: it goes first.
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        if "KEY_VALUES_MISMATCH" in str(exc):
            reason = "the key does not match the certificate"
        raise ValueError(f"{cert_var} {cert_file} / {key_var} {key_file}: {reason}") from None
    except OSError as exc:
        raise ValueError(f"cannot read TLS files {cert_file}, {key_file}: {exc}") from None
    return context
