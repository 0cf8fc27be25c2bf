"""The kopf layer: settings in one startup hook, watch events into the index, nothing else.

Everything that decides or writes lives in plain modules (:mod:`.observe`, :mod:`.document`,
:mod:`.configmap`, :mod:`.reconciler`). Per-operator state sits in kopf's ``memo`` so two
operators in one process (the peering tests) do not share an index.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf

from .config import ControllerConfig
from .kube import KubeApi
from .metrics import Metrics
from .observe import SERVICE_NAME_LABEL
from .reconciler import Reconciler


@kopf.on.startup()
async def configure(
    settings: kopf.OperatorSettings,
    memo: kopf.Memo,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    **_: Any,
) -> None:
    """All operator settings, and the per-operator state (index, API, metrics, reconcile loop)."""
    config: ControllerConfig = memo.get("config") or ControllerConfig.from_env()
    memo.config = config

    settings.peering.standalone = config.standalone
    settings.peering.mandatory = not config.standalone
    settings.peering.clusterwide = False
    if not config.standalone:
        settings.peering.name = config.peering
    settings.peering.priority = config.priority
    settings.peering.lifetime = config.peering_lifetime
    settings.peering.stealth = True  # no log line per keep-alive
    # A namespaced Role cannot watch CRDs; the initial API discovery is all we need.
    settings.scanning.disabled = True
    # Handler-level problems become Kubernetes Events; routine info stays in the log.
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = config.watch_timeout
    settings.watching.client_timeout = config.watch_timeout + 30
    settings.watching.connect_timeout = 10

    metrics = Metrics()
    metrics.serve(
        config.metrics_port, config.metrics_host, config.metrics_tls_cert, config.metrics_tls_key
    )
    reconciler = Reconciler(config, KubeApi(config.namespace), metrics)
    memo.metrics = metrics
    memo.reconciler = reconciler
    memo.reconcile_task = asyncio.create_task(reconciler.run(), name="routing reconciler")
    logger.info(
        "keeping ConfigMap %s/%s; peering %s, priority %d; metrics on port %s",
        config.namespace,
        config.configmap,
        config.peering or "off (standalone)",
        config.priority,
        config.metrics_port or "off",
    )


@kopf.on.cleanup()
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    task = memo.get("reconcile_task")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if "reconciler" in memo:
        memo.reconciler.api.close()
    if "metrics" in memo:
        memo.metrics.shutdown()


# Every Service, not only labelled ones: a Service relabelled out of the warehouse set must
# leave the index, and kopf's label filter would hide exactly that event.
@kopf.on.event("v1", "services")
async def service_event(
    type: str | None, body: kopf.Body, namespace: str | None, memo: kopf.Memo, **_: Any
) -> None:
    if namespace == memo.config.namespace and memo.reconciler.index.apply_service(type, body):
        memo.reconciler.notify()


@kopf.on.event(
    "discovery.k8s.io", "v1", "endpointslices", labels={SERVICE_NAME_LABEL: kopf.PRESENT}
)
async def endpointslice_event(
    type: str | None, body: kopf.Body, namespace: str | None, memo: kopf.Memo, **_: Any
) -> None:
    if namespace == memo.config.namespace and memo.reconciler.index.apply_slice(type, body):
        memo.reconciler.notify()
