"""``kopf run -m controller`` (kopf's own CLI) runs the same handlers, configured by env."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import kmock as km
import pytest

from localmode.processes import ManagedProcess
from tests.controller.conftest import (
    NAMESPACE,
    PEERING,
    PEERINGS,
    SERVICES,
    SLICES,
    endpoint_slice,
    eventually,
    service,
)

pytestmark = pytest.mark.asyncio


async def test_kopf_run_should_keep_the_configmap_with_settings_from_env(
    cluster, kubeconfig, tmp_path
):
    await cluster.create(SERVICES, service("HCM"))
    await cluster.create(SLICES, endpoint_slice("orders-warehouse-hcm", 1))
    kopf_cli = Path(sys.executable).parent / "kopf"
    process = ManagedProcess(
        "kopf-run",
        [str(kopf_cli), "run", "-m", "controller", "--namespace", NAMESPACE],
        tmp_path / "kopf-run.log",
        env={
            "KUBECONFIG": str(kubeconfig),
            "CONTROLLER_NAMESPACE": NAMESPACE,
            "CONTROLLER_PEERING": PEERING,
            "ROUTING_CONFIGMAP": "routes-from-env",
            "METRICS_PORT": "0",
        },
    )
    process.start()
    try:
        await eventually(
            lambda: cluster.routing_text("routes-from-env") is not None,
            timeout=30,
            what=f"ConfigMap routes-from-env (log: {process.log_path})",
        )
    finally:
        # In a thread: a graceful stop talks to the API, which is served by this very loop.
        exit_code = await asyncio.to_thread(process.stop)
    assert exit_code == 0, process.tail()
    assert '"HCM":{"url":"http://orders-warehouse-hcm.orders.svc:8000","ready":true' in (
        cluster.routing_text("routes-from-env") or ""
    )
    # Peering came from the environment too: kopf wrote its keep-alives into that object.
    keepalives = cluster.mock[PEERINGS, km.method.PATCH]
    assert keepalives and all(str(r.url.path).endswith(f"/{PEERING}") for r in keepalives)
    # A graceful stop (SIGTERM) withdraws the record, so a standby need not wait for it to expire.
    peering = cluster.object(PEERINGS, PEERING) or {}
    assert not any(peering.get("status", {}).values())
