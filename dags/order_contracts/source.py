"""Where the routing document comes from: a file, an http(s) URL, or the ConfigMap.

``ORDER_ROUTING_SOURCE`` (or an explicit argument) selects it:

* ``/path/to/routing.json`` or ``file:///path`` — local mode, written by ``orders-routing-source``;
* ``http://host:port/routing.json`` — the local routing source served over HTTP;
* ``configmap:NAMESPACE/NAME`` — the controller's ConfigMap through the Kubernetes API;
* unset, inside a pod — the ``warehouse-routing`` ConfigMap of the pod's own namespace.

The kubernetes client is imported only for the ConfigMap source, so local mode needs nothing
beyond the standard library and pydantic.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

from .envvars import ORDER_ROUTING_SOURCE, ConfigError
from .labels import ROUTING_CONFIGMAP, ROUTING_KEY
from .routing import RoutingDocument
from .tls import refuse_plain_http, ssl_context

ENV_VAR = ORDER_ROUTING_SOURCE
SERVICEACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class RoutingSourceError(RuntimeError):
    """The routing document could not be read; the message names the source and the cause."""


def default_source() -> str:
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        return configured
    if os.environ.get("KUBERNETES_SERVICE_HOST") and SERVICEACCOUNT_NAMESPACE.exists():
        namespace = SERVICEACCOUNT_NAMESPACE.read_text().strip()
        return f"configmap:{namespace}/{ROUTING_CONFIGMAP}"
    raise RoutingSourceError(
        f"{ENV_VAR} is not set and this is not a Kubernetes pod: set it to a file path, an "
        "http(s) URL or configmap:NAMESPACE/NAME"
    )


def _read_configmap(namespace: str, name: str) -> str:
    from kubernetes import client, config  # only the ConfigMap source needs the client

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    configmap = client.CoreV1Api().read_namespaced_config_map(name, namespace)
    data = configmap.data or {}
    if ROUTING_KEY not in data:
        raise RoutingSourceError(f"ConfigMap {namespace}/{name} has no key {ROUTING_KEY}")
    return str(data[ROUTING_KEY])


def read_routing_text(source: str, timeout: float = 5.0) -> str:
    if source.startswith("configmap:"):
        namespace, sep, name = source.removeprefix("configmap:").partition("/")
        if not sep or not namespace or not name:
            raise RoutingSourceError(f"{source!r}: expected configmap:NAMESPACE/NAME")
        return _read_configmap(namespace, name)
    if source.startswith(("http://", "https://")):
        # an https:// source is verified against ORDER_CA_BUNDLE, as nodes are (docs/tls.md)
        context = ssl_context() if source.startswith("https://") else None
        with urllib.request.urlopen(source, timeout=timeout, context=context) as response:  # noqa: S310
            return str(response.read().decode())
    return Path(source.removeprefix("file://")).read_text()


def load_routing_document(source: str | None = None, timeout: float = 5.0) -> RoutingDocument:
    """Read and validate the routing document, or raise :class:`RoutingSourceError`."""
    where = source or default_source()
    try:
        text = read_routing_text(where, timeout)
        document = RoutingDocument.from_json(text)
    except RoutingSourceError:
        raise
    except Exception as exc:  # any I/O, API or validation failure means "cannot route"
        raise RoutingSourceError(f"cannot read the routing document from {where}: {exc}") from exc
    try:
        # every URL a client would send the node token to: TLS deployments refuse http:// ones
        refuse_plain_http(
            url for route in document.regions.values() for url in (route.url, *route.read_urls)
        )
    except ConfigError as exc:
        raise RoutingSourceError(f"routing document from {where}: {exc}") from None
    return document
