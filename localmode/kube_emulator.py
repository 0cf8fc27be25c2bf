"""The real controller against an emulated Kubernetes API (kmock): shared by the controller's
tests (``tests/controller/``) and the controller-latency benchmark (``benchmarks/``).

Not test code itself, so a benchmark can use it without importing a test module; it needs the
dev dependencies (kmock). kmock's emulator serves the API from the caller's event loop, so
waiting here is ``await eventually(...)``, never a blocking sleep (that would freeze the API).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import kmock as km
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from controller.cli import run as run_controller
from controller.config import ControllerConfig
from order_contracts.labels import (
    COMPONENT_FOLLOWER,
    COMPONENT_LABEL,
    COMPONENT_WAREHOUSE,
    REGION_LABEL,
    ROUTING_CONFIGMAP,
    ROUTING_KEY,
)
from order_contracts.regions import parse_proximity
from order_contracts.routing import RoutingDocument

NAMESPACE = "orders"
PEERING = "warehouse-controller"
PROXIMITY = "HCM=DN,HN;HN=DN,HCM;DN=HN,HCM"
# kmock keeps the resourceVersion we give; kopf needs one to resume watches and compare.
RESOURCE_VERSION = "1"

SERVICES = km.resource("v1/services")
SLICES = km.resource("discovery.k8s.io/v1/endpointslices")
CONFIGMAPS = km.resource("v1/configmaps")
PEERINGS = km.resource("kopf.dev/v1/kopfpeerings")
VERBS = {"get", "list", "watch", "create", "patch", "delete"}


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]],
    timeout: float = 20.0,  # noqa: ASYNC109  (a deadline for polling, not a cancellation)
    what: str = "condition",
    interval: float = 0.02,
) -> None:
    """Poll ``condition`` (sync or async) until true; fail naming ``what`` after ``timeout``.

    The generous default is for a loaded 2-core CI machine; a passing wait returns at once.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}")
        await asyncio.sleep(interval)


def service(
    region: str,
    name: str | None = None,
    port_name: str = "http",
    component: str = COMPONENT_WAREHOUSE,
    headless: bool = False,
) -> dict[str, Any]:
    default = "follower" if component == COMPONENT_FOLLOWER else "warehouse"
    name = name or f"orders-{default}-{region.lower()}"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "resourceVersion": RESOURCE_VERSION,
            "uid": f"uid-{name}",
            "labels": {COMPONENT_LABEL: component, REGION_LABEL: region},
        },
        "spec": {
            "ports": [{"name": port_name, "port": 8000, "targetPort": 8000}],
            **({"clusterIP": "None"} if headless else {}),
        },
    }


def endpoint_slice(service_name: str, ready: int, not_ready: int = 0) -> dict[str, Any]:
    endpoints = [
        {
            "addresses": [f"10.0.0.{i + 1}"],
            "conditions": {"ready": i < ready},
            "targetRef": {"kind": "Pod", "name": f"{service_name}-{i}", "namespace": NAMESPACE},
        }
        for i in range(ready + not_ready)
    ]
    name = f"{service_name}-abcde"
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "resourceVersion": RESOURCE_VERSION,
            "uid": f"uid-{name}",
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": "http", "port": 8000, "protocol": "TCP"}],
    }


@dataclass
class Cluster:
    """The emulated API: write objects over HTTP, read what the controller wrote."""

    mock: km.KubernetesEmulator
    http: aiohttp.ClientSession

    def path(self, resource: km.resource, name: str | None = None) -> str:
        prefix = "/api/v1" if resource.group == "" else f"/apis/{resource.group}/{resource.version}"
        base = f"{prefix}/namespaces/{NAMESPACE}/{resource.plural}"
        return f"{base}/{name}" if name else base

    async def create(self, resource: km.resource, body: dict[str, Any]) -> None:
        async with self.http.post(self.path(resource), json=body) as response:
            assert response.status < 300, await response.text()

    async def patch(self, resource: km.resource, name: str, patch: dict[str, Any]) -> None:
        headers = {"Content-Type": "application/merge-patch+json"}
        url = self.path(resource, name)
        async with self.http.patch(url, data=json.dumps(patch), headers=headers) as response:
            assert response.status < 300, await response.text()

    async def delete(self, resource: km.resource, name: str) -> None:
        async with self.http.delete(self.path(resource, name)) as response:
            assert response.status < 300, await response.text()

    def object(self, resource: km.resource, name: str) -> dict[str, Any] | None:
        key = (resource, NAMESPACE, name)
        if key not in self.mock.objects or self.mock.objects[key].deleted:
            return None
        return dict(self.mock.objects[key].raw)

    def routing_text(self, name: str = ROUTING_CONFIGMAP) -> str | None:
        body = self.object(CONFIGMAPS, name)
        return None if body is None else (body.get("data") or {}).get(ROUTING_KEY)

    def routing(self) -> RoutingDocument | None:
        """The document in the ConfigMap; None when missing or not (yet) a valid document."""
        try:
            return RoutingDocument.from_json(self.routing_text() or "")
        except ValidationError:
            return None

    def configmap_writes(self) -> int:
        """Create and patch requests the ConfigMap has received."""
        return len(self.mock[CONFIGMAPS, km.method.POST]) + len(
            self.mock[CONFIGMAPS, km.method.PATCH]
        )

    async def watches_open(self, count: int = 1) -> None:
        """Wait until exactly ``count`` operators watch Services and EndpointSlices."""
        await eventually(
            lambda: self.watchers(SERVICES) == count and self.watchers(SLICES) == count,
            what=f"{count} open watch stream(s) on Services and EndpointSlices",
        )

    def watchers(self, resource: km.resource) -> int:
        """Open watch streams on ``resource``, counted by the emulator's event bus.

        kmock sends a watch only the events put on its bus after the stream subscribed, so a
        test must not change objects before the operator's watch is really open.
        """
        return self.mock._buses[resource].consumer_count


def declare_resources(mock: km.KubernetesEmulator) -> None:
    """The API groups the controller and kopf discover, as a real cluster serves them."""
    for resource, kind in (
        (SERVICES, "Service"),
        (SLICES, "EndpointSlice"),
        (CONFIGMAPS, "ConfigMap"),
        (km.resource("v1/events"), "Event"),
        (PEERINGS, "KopfPeering"),
    ):
        mock.resources[resource] = km.ResourceInfo(kind=kind, namespaced=True, verbs=VERBS)
    # kopf's start-up discovery expects these cluster-scoped resources to exist.
    mock.resources["v1/namespaces"] = km.ResourceInfo(kind="Namespace", namespaced=False)
    mock.resources["apiextensions.k8s.io/v1/customresourcedefinitions"] = km.ResourceInfo(
        kind="CustomResourceDefinition", namespaced=False
    )


def write_kubeconfig(path: Path, server: str) -> Path:
    context = {"cluster": "kmock", "user": "kmock", "namespace": NAMESPACE}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kmock", "cluster": {"server": server}}],
        "users": [{"name": "kmock", "user": {"token": "kmock"}}],
        "contexts": [{"name": "kmock", "context": context}],
        "current-context": "kmock",
    }
    path.write_text(json.dumps(config))
    return path


async def open_cluster(mock: km.KubernetesEmulator, http: aiohttp.ClientSession) -> Cluster:
    """Declare the resources and create the peering object the replicas share."""
    declare_resources(mock)
    world = Cluster(mock, http)
    peering = {
        "apiVersion": "kopf.dev/v1",
        "kind": "KopfPeering",
        "metadata": {
            "name": PEERING,
            "namespace": NAMESPACE,
            "resourceVersion": RESOURCE_VERSION,
            "uid": "uid-peering",
        },
    }
    await world.create(PEERINGS, peering)
    return world


def controller_config(**overrides: Any) -> ControllerConfig:
    base = ControllerConfig(
        namespace=NAMESPACE,
        proximity=parse_proximity(PROXIMITY),
        peering=PEERING,
        priority=100,
        peering_lifetime=60,
        metrics_port=0,
        metrics_host="127.0.0.1",
        resync_seconds=0.3,
        watch_timeout=60,
    )
    return replace(base, **overrides)


class OperatorThread:
    """One real operator (``controller.cli.run``) in a thread with its own event loop."""

    def __init__(self, config: ControllerConfig):
        self.config = config
        self.stop_flag = threading.Event()
        self.ready_flag = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._target, name=f"operator-{config.priority}")

    def _target(self) -> None:
        try:
            run_controller(self.config, stop_flag=self.stop_flag, ready_flag=self.ready_flag)
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    async def start(self) -> OperatorThread:
        self.thread.start()
        await eventually(self.ready_flag.is_set, what="the operator to start")
        return self

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.config.metrics_port}/metrics"

    async def text(self) -> str:
        """This operator's whole ``/metrics`` answer."""
        async with (
            aiohttp.ClientSession() as http,
            http.get(self.metrics_url) as response,
        ):
            return await response.text()

    async def metric(self, name: str, **labels: str) -> float:
        """One sample from this operator's ``/metrics`` endpoint (0 when not exported yet)."""
        for family in text_string_to_metric_families(await self.text()):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    return float(sample.value)
        return 0.0

    async def stop(self, timeout: float = 15.0) -> None:  # noqa: ASYNC109
        self.stop_flag.set()
        await eventually(lambda: not self.thread.is_alive(), timeout, "the operator to stop")
        if self.error is not None:
            raise self.error
