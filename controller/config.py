"""The controller's configuration: environment variables with documented defaults.

Read once at start-up into a frozen :class:`ControllerConfig`. Tests (and two operators in one
process) build the object directly instead of going through the process-wide environment.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from order_contracts import envvars, tls
from order_contracts.envvars import env_float, env_int
from order_contracts.labels import ROUTING_CONFIGMAP
from order_contracts.regions import ConfigError, Proximity, parse_proximity

SERVICEACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
DEFAULT_PEERING = "warehouse-controller"
DEFAULT_METRICS_PORT = 9090
DEFAULT_PEERING_LIFETIME = 30
DEFAULT_RESYNC_SECONDS = 5.0
# Two replicas of one Deployment share their environment; kopf pauses *both* peers when their
# priorities are equal. Without an explicit priority each process draws one from this range, so
# replicas differ (a collision is ~1 in 10^9) and the higher one leads.
RANDOM_PRIORITY_RANGE = (1, 1_000_000_000)


def _pod_namespace() -> str:
    try:
        return SERVICEACCOUNT_NAMESPACE.read_text().strip() or "default"
    except OSError:
        return "default"


@dataclass(frozen=True)
class ControllerConfig:
    """Everything the controller needs to know; see the README's Controller section."""

    namespace: str = "default"
    configmap: str = ROUTING_CONFIGMAP
    proximity: Proximity = field(default_factory=lambda: parse_proximity(None))
    #: kopf peering object name; empty string = standalone (no leader election)
    peering: str = DEFAULT_PEERING
    priority: int = 0
    #: seconds a peer's keep-alive stays valid; a crashed leader is replaced after at most this
    peering_lifetime: int = DEFAULT_PEERING_LIFETIME
    #: 0 disables the metrics endpoint
    metrics_port: int = DEFAULT_METRICS_PORT
    metrics_host: str = "0.0.0.0"
    #: PEM pair: the metrics endpoint serves HTTPS only (both empty: plain HTTP)
    metrics_tls_cert: str = ""
    metrics_tls_key: str = ""
    #: how often the leader re-checks the ConfigMap (repairs hand edits)
    resync_seconds: float = DEFAULT_RESYNC_SECONDS
    #: one watch request lasts at most this long before kopf reconnects
    watch_timeout: int = 300

    @property
    def standalone(self) -> bool:
        return not self.peering

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ControllerConfig:
        """Read the ``CONTROLLER_*``, ``ROUTING_CONFIGMAP``, ``ORDER_PROXIMITY`` and
        ``METRICS_PORT`` variables; :class:`ConfigError` names the variable at fault."""
        env = os.environ if env is None else env
        priority_raw = env.get("CONTROLLER_PRIORITY", "").strip()
        if priority_raw:
            try:
                priority = int(priority_raw)
            except ValueError:
                raise ConfigError(
                    f"CONTROLLER_PRIORITY: {priority_raw!r} is not an integer"
                ) from None
        else:
            priority = random.randint(*RANDOM_PRIORITY_RANGE)
        tls_cert = env.get(envvars.CONTROLLER_TLS_CERT, "").strip()
        tls_key = env.get(envvars.CONTROLLER_TLS_KEY, "").strip()
        try:
            tls.check_server_pair(
                tls_cert, tls_key, envvars.CONTROLLER_TLS_CERT, envvars.CONTROLLER_TLS_KEY
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        configmap = env.get("ROUTING_CONFIGMAP", "").strip() or ROUTING_CONFIGMAP
        namespace = env.get("CONTROLLER_NAMESPACE", "").strip() or _pod_namespace()
        return cls(
            namespace=namespace,
            configmap=configmap,
            proximity=parse_proximity(env.get(envvars.ORDER_PROXIMITY)),
            peering=env.get("CONTROLLER_PEERING", DEFAULT_PEERING).strip(),
            priority=priority,
            peering_lifetime=env_int(
                env, "CONTROLLER_PEERING_LIFETIME", DEFAULT_PEERING_LIFETIME, minimum=1
            ),
            metrics_port=env_int(env, "METRICS_PORT", DEFAULT_METRICS_PORT),
            resync_seconds=env_float(
                env, "CONTROLLER_RESYNC_SECONDS", DEFAULT_RESYNC_SECONDS, minimum=0.1
            ),
            watch_timeout=env_int(env, "CONTROLLER_WATCH_TIMEOUT", 300, minimum=1),
            metrics_tls_cert=tls_cert,
            metrics_tls_key=tls_key,
        )
