"""The environment variables more than one part reads, and numbers read from them.

Every part is configured by environment; a typo must stop it at start with one clear line
(``NAME: 'x' is not a number``), not a traceback or a silently used default. The names below are
the ones that cross parts (a launcher sets them, a node, the DAG or the stress tool reads them):
use the constant, never the literal, so a rename cannot leave one part reading the old name.
Each part's own settings keep their names next to their defaults.
"""

from __future__ import annotations

from collections.abc import Mapping

#: the regions that exist, comma separated (``HCM,HN,DN`` by default; :mod:`.regions`)
ORDER_REGIONS = "ORDER_REGIONS"
#: nearest-first proximity between regions (:mod:`.regions`)
ORDER_PROXIMITY = "ORDER_PROXIMITY"
#: where the routing document comes from: a file, an http(s) URL or ``configmap:NS/NAME``
ORDER_ROUTING_SOURCE = "ORDER_ROUTING_SOURCE"
#: the nodes' bearer token (the node requires it, the DAG and the stress tool send it)
NODE_API_TOKEN = "NODE_API_TOKEN"  # noqa: S105  (a variable name, not a secret)
#: the CA bundle (PEM) every client of the nodes trusts when they serve HTTPS (:mod:`.tls`)
ORDER_CA_BUNDLE = "ORDER_CA_BUNDLE"
#: a node's PEM certificate (chain) and key: both set = the node serves HTTPS only (docs/tls.md);
#: the ``*_FILE`` names are the first slice's, still read as aliases
NODE_TLS_CERT = "NODE_TLS_CERT"
NODE_TLS_KEY = "NODE_TLS_KEY"
NODE_TLS_CERT_ALIASES = (NODE_TLS_CERT, "NODE_TLS_CERT_FILE")
NODE_TLS_KEY_ALIASES = (NODE_TLS_KEY, "NODE_TLS_KEY_FILE")
#: TLS for the routing source's HTTP endpoint and the controller's metrics endpoint (docs/tls.md)
ROUTING_TLS_CERT = "ROUTING_TLS_CERT"
ROUTING_TLS_KEY = "ROUTING_TLS_KEY"
CONTROLLER_TLS_CERT = "CONTROLLER_TLS_CERT"
CONTROLLER_TLS_KEY = "CONTROLLER_TLS_KEY"
#: whether clients refuse plain-HTTP node URLs: ``auto`` (default: yes when ORDER_CA_BUNDLE is
#: set), ``true`` or ``false`` (:func:`order_contracts.tls.refuse_plain_http`)
ORDER_REQUIRE_TLS = "ORDER_REQUIRE_TLS"
#: a warehouse node's own region
NODE_REGION = "NODE_REGION"
#: log level of every part's JSON logs
LOG_LEVEL = "LOG_LEVEL"
#: the DAG's retries, retry delay and concurrent runs (set by local mode and the chart)
ORDER_PROCESS_RETRIES = "ORDER_PROCESS_RETRIES"
ORDER_RETRY_DELAY_SECONDS = "ORDER_RETRY_DELAY_SECONDS"
ORDER_MAX_ACTIVE_RUNS = "ORDER_MAX_ACTIVE_RUNS"


class ConfigError(ValueError):
    """A setting that cannot be understood; the message names the setting."""


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    """``env[name]`` as an integer ≥ ``minimum``; ``default`` when unset or blank."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name}: {value} is below the minimum {minimum}")
    return value


def env_float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    """``env[name]`` as a finite number ≥ ``minimum``; ``default`` when unset or blank."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{name}: {raw!r} is not a finite number")
    if value < minimum:
        raise ConfigError(f"{name}: {value:g} is below the minimum {minimum:g}")
    return value
