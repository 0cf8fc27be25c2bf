"""The real controller (kopf operator, each in its own thread and event loop) against kmock.

The emulated cluster and the operator threads are ``localmode/kube_emulator.py`` (the benchmark
uses them too); the fixtures are here. Waiting is ``await eventually(...)``, never a sleep.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import kmock as km
import pytest
import pytest_asyncio

from localmode.kube_emulator import (  # noqa: F401  (re-exported for the controller's tests)
    CONFIGMAPS,
    NAMESPACE,
    PEERING,
    PEERINGS,
    PROXIMITY,
    RESOURCE_VERSION,
    SERVICES,
    SLICES,
    VERBS,
    Cluster,
    OperatorThread,
    controller_config,
    declare_resources,
    endpoint_slice,
    eventually,
    open_cluster,
    service,
    write_kubeconfig,
)
from localmode.processes import free_port


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    return tmp_path / "kubeconfig"


@pytest_asyncio.fixture
async def cluster(
    kmock: km.KubernetesEmulator, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Cluster]:
    write_kubeconfig(kubeconfig, str(kmock.url))
    # kubernetes reads $KUBECONFIG once at import; the module constant is what it uses later.
    monkeypatch.setattr(
        "kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig)
    )
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    async with aiohttp.ClientSession(base_url=str(kmock.url)) as http:
        yield await open_cluster(kmock, http)


@pytest_asyncio.fixture
async def operators() -> AsyncIterator[Callable[..., Awaitable[OperatorThread]]]:
    """Start operators with ``await start(**config_overrides)``; all are stopped at the end."""
    started: list[OperatorThread] = []

    async def start(**overrides: Any) -> OperatorThread:
        overrides.setdefault("metrics_port", free_port())
        operator = await OperatorThread(controller_config(**overrides)).start()
        started.append(operator)
        return operator

    yield start
    for operator in started:
        if operator.thread.is_alive():
            await operator.stop()
