"""What the cluster says about each region: Services and EndpointSlices in, observations out.

Plain functions over plain dicts (the shape of the Kubernetes API's JSON), so they are tested
without kopf or a cluster. The labels come from :mod:`order_contracts.labels`, the same module
the Helm chart's values are checked against.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from order_contracts.labels import (
    COMPONENT_FOLLOWER,
    COMPONENT_LABEL,
    COMPONENT_WAREHOUSE,
    REGION_LABEL,
    WAREHOUSE_PORT,
)
from order_contracts.regions import normalize_region
from order_contracts.routing import RegionObservation

#: set by Kubernetes on every EndpointSlice: the name of the Service it belongs to
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
#: the Service port whose number goes into a region's URL; the first port when none is named so
HTTP_PORT_NAME = "http"
#: the same port when the nodes serve TLS (the chart's `tls.enabled`): the URL is https://
HTTPS_PORT_NAME = "https"

Body = Mapping[str, Any]


@dataclass(frozen=True)
class ServiceSummary:
    """The part of a warehouse (or follower) Service the routing document needs."""

    name: str
    region: str
    url: str
    headless: bool
    #: a read-only follower's Service (component ``warehouse-follower``): a read URL, never a
    #: region's write URL
    follower: bool = False


@dataclass(frozen=True)
class SliceSummary:
    """One EndpointSlice reduced to its Service and the identities of its ready endpoints."""

    name: str
    service: str
    ready: frozenset[str]


def is_warehouse_service(body: Body) -> bool:
    """A labelled primary or follower Service of a region."""
    labels = body.get("metadata", {}).get("labels") or {}
    component = labels.get(COMPONENT_LABEL)
    return bool(component in (COMPONENT_WAREHOUSE, COMPONENT_FOLLOWER) and labels.get(REGION_LABEL))


def service_endpoint(body: Body) -> tuple[str, int]:
    """(scheme, port) of the port clients call.

    The port named ``https`` (the chart names it so when the nodes serve TLS) gives an
    ``https`` URL, the one named ``http`` a plain one, else the first port (plain), else the
    warehouse default (8000). The scheme follows the Service's own port name, so a release's
    TLS switch reaches the routing document without a controller setting that could disagree.
    """
    ports = body.get("spec", {}).get("ports") or []
    for name, scheme in ((HTTPS_PORT_NAME, "https"), (HTTP_PORT_NAME, "http")):
        for port in ports:
            if port.get("name") == name and port.get("port"):
                return scheme, int(port["port"])
    if ports and ports[0].get("port"):
        return "http", int(ports[0]["port"])
    return "http", WAREHOUSE_PORT


def service_port(body: Body) -> int:
    """The port of :func:`service_endpoint`: ``https``, else ``http``, else the first, else 8000."""
    return service_endpoint(body)[1]


def service_summary(body: Body) -> ServiceSummary | None:
    """``None`` for a Service that is not (or no longer) a labelled warehouse Service."""
    if not is_warehouse_service(body):
        return None
    meta = body["metadata"]
    name = str(meta["name"])
    namespace = meta.get("namespace") or "default"
    scheme, port = service_endpoint(body)
    return ServiceSummary(
        name=name,
        region=normalize_region(str(meta["labels"][REGION_LABEL])),
        url=f"{scheme}://{name}.{namespace}.svc:{port}",
        headless=body.get("spec", {}).get("clusterIP") == "None",
        follower=meta["labels"][COMPONENT_LABEL] == COMPONENT_FOLLOWER,
    )


def _endpoint_identity(endpoint: Body) -> str:
    """The pod behind an endpoint (an endpoint may briefly sit in two slices: count it once)."""
    target = endpoint.get("targetRef") or {}
    if target.get("uid") or target.get("name"):
        return f"{target.get('namespace', '')}/{target.get('name', '')}/{target.get('uid', '')}"
    return ",".join(sorted(endpoint.get("addresses") or []))


def slice_summary(body: Body) -> SliceSummary | None:
    """``None`` for a slice that belongs to no Service."""
    meta = body.get("metadata", {})
    service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    if not service:
        return None
    ready = frozenset(
        _endpoint_identity(endpoint)
        for endpoint in body.get("endpoints") or []
        # The API says a missing `ready` means ready; only an explicit false means not ready.
        if (endpoint.get("conditions") or {}).get("ready") is not False
    )
    return SliceSummary(name=str(meta["name"]), service=str(service), ready=ready)


def observations(
    services: Iterable[ServiceSummary], slices: Iterable[SliceSummary]
) -> list[RegionObservation]:
    """One observation per region: its Service's URL, its ready endpoints, its read URLs.

    When several Services claim one region (a StatefulSet's headless Service next to the
    ClusterIP one), the ClusterIP Service wins, then the first by name, so the URL is stable.
    A follower Service adds its URL to the region's read URLs while it has a ready endpoint
    (headless follower Services are skipped: the ClusterIP one balances over the same pods). A
    region with followers but no primary Service is not routable and gets no observation.
    """
    ready_by_service: dict[str, set[str]] = {}
    for item in slices:
        ready_by_service.setdefault(item.service, set()).update(item.ready)
    chosen: dict[str, ServiceSummary] = {}
    reads: dict[str, list[str]] = {}
    for svc in sorted(services, key=lambda s: (s.headless, s.name)):
        if not svc.follower:
            chosen.setdefault(svc.region, svc)
        elif not svc.headless and ready_by_service.get(svc.name):
            reads.setdefault(svc.region, []).append(svc.url)
    return [
        RegionObservation(
            region,
            svc.url,
            len(ready_by_service.get(svc.name, ())),
            tuple(reads.get(region, ())),
        )
        for region, svc in sorted(chosen.items())
    ]
