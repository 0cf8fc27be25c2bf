"""A real Prometheus (the Debian package's ``prometheus`` binary) scraping local processes.

Local mode and the alert test share it: both scrape the nodes they started with the labels the
chart's ServiceMonitor relabelling gives them in a cluster (``component``, ``region``), and load
the chart's own rule file (``charts/orders/files/alerts.yaml``) so the alerts evaluated here are
the ones a cluster evaluates. ``for_override`` shortens every rule's ``for:`` (a test cannot wait
a minute for ``WarehouseNodeDown``).

Settings (env, read by :func:`prometheus_binary`): ``PROMETHEUS_BIN`` (default: ``prometheus``
on PATH; ``scripts/bootstrap.sh`` installs the Debian package).
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .processes import ManagedProcess, free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
#: the chart's alert rules: the very file the chart's PrometheusRule embeds
CHART_ALERTS = REPO_ROOT / "charts" / "orders" / "files" / "alerts.yaml"


@dataclass(frozen=True)
class ScrapeTarget:
    """One process to scrape: ``url`` is its base URL (``/metrics`` is appended)."""

    component: str
    url: str
    region: str | None = None


def prometheus_binary() -> str:
    """``$PROMETHEUS_BIN`` or ``prometheus`` on PATH; a one-line error when there is none."""
    configured = os.environ.get("PROMETHEUS_BIN")
    found = configured or shutil.which("prometheus")
    if not found:
        raise RuntimeError(
            "prometheus not found: run `bash scripts/bootstrap.sh` (installs the Debian package)"
            " or set PROMETHEUS_BIN"
        )
    return found


def prometheus_available() -> bool:
    """Whether :func:`prometheus_binary` finds one (local mode runs without it, saying so)."""
    try:
        prometheus_binary()
    except RuntimeError:
        return False
    return True


def rules_with(for_override: str | None, source: Path = CHART_ALERTS) -> dict[str, Any]:
    """The chart's rule file, each alert's ``for:`` replaced by ``for_override`` when given."""
    rules: dict[str, Any] = yaml.safe_load(source.read_text())
    if for_override is not None:
        for group in rules["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    rule["for"] = for_override
    return rules


def scrape_config(
    targets: list[ScrapeTarget],
    interval: str,
    rule_file: Path | None,
    ca_file: Path | None = None,
) -> dict[str, Any]:
    """prometheus.yml: one static job per component, each target labelled with its region.

    A component whose URLs are ``https://`` is scraped over HTTPS, verified against ``ca_file``
    (the CA of ``orders-demo --tls``) when given."""
    jobs: dict[str, list[dict[str, Any]]] = {}
    schemes: dict[str, str] = {}
    for target in targets:
        parts = urllib.parse.urlsplit(target.url)
        host = parts.netloc
        schemes[target.component] = parts.scheme or "http"
        labels = {"component": target.component}
        if target.region:
            labels["region"] = target.region
        jobs.setdefault(target.component, []).append({"targets": [host], "labels": labels})
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(rule_file)] if rule_file else [],
        "scrape_configs": [
            # a scrape must end before the next one starts
            {
                "job_name": job,
                "scrape_timeout": interval,
                "static_configs": static,
                **_tls_settings(schemes[job], ca_file),
            }
            for job, static in jobs.items()
        ],
    }


def _tls_settings(scheme: str, ca_file: Path | None) -> dict[str, Any]:
    if scheme != "https":
        return {}
    return {"scheme": "https", **({"tls_config": {"ca_file": str(ca_file)}} if ca_file else {})}


def prometheus_process(
    targets: list[ScrapeTarget],
    work_dir: Path,
    *,
    interval: str = "1s",
    rules: dict[str, Any] | None = None,
    port: int | None = None,
    ca_file: Path | None = None,
) -> tuple[ManagedProcess, str]:
    """A (not yet started) Prometheus scraping ``targets``, and its base URL.

    Its config, rule file, TSDB and log live in ``work_dir``; ``start()`` waits for ``/-/ready``.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    rule_file = None
    if rules is not None:
        rule_file = work_dir / "alerts.yaml"
        rule_file.write_text(yaml.safe_dump(rules, sort_keys=False))
    config = work_dir / "prometheus.yml"
    settings = scrape_config(targets, interval, rule_file, ca_file)
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        prometheus_binary(),
        f"--config.file={config}",
        f"--storage.tsdb.path={work_dir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=1d",
        "--log.level=warn",
    ]
    process = ManagedProcess(
        "prometheus", argv, work_dir / "prometheus.log", ready_url=f"{url}/-/ready"
    )
    return process, url


def _get(url: str, timeout: float) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (local URL)
        body = json.loads(response.read())
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus answered {body.get('errorType')}: {body.get('error')}")
    return body["data"]


def query(base_url: str, promql: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    """An instant query's result vector (``[{"metric": {...}, "value": [t, "v"]}, ...]``)."""
    data = _get(f"{base_url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}", timeout)
    result: list[dict[str, Any]] = data["result"]
    return result


def alerts(base_url: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Pending and firing alerts (``/api/v1/alerts``); resolved ones are gone from the list."""
    found: list[dict[str, Any]] = _get(f"{base_url}/api/v1/alerts", timeout)["alerts"]
    return found


def alert_rules(base_url: str, timeout: float = 5.0) -> list[str]:
    """Names of the alerting rules Prometheus has loaded (``/api/v1/rules``)."""
    groups = _get(f"{base_url}/api/v1/rules?type=alert", timeout)["groups"]
    return [rule["name"] for group in groups for rule in group["rules"]]


@dataclass(frozen=True)
class RunAnswers:
    """What the demo's summary asks Prometheus about the last ``window_s`` seconds."""

    #: orders stored (created or replayed) per second, per warehouse region
    orders_per_s: dict[str, float]
    #: p99 of ``POST /order`` and ``POST /orders`` over every warehouse, in ms (None: no data)
    p99_ms: float | None
    #: orders stored on a warehouse that is not their home region (fallbacks)
    fallbacks: int


#: the PromQL behind :class:`RunAnswers` (``{w}`` is the window, e.g. ``90s``)
ORDERS_PER_S = (
    'sum by (region) (increase(warehouse_orders_total{{component="warehouse",'
    'outcome=~"created|duplicate"}}[{w}])) / {s}'
)
P99_SECONDS = (
    "histogram_quantile(0.99, sum by (le) (increase("
    'warehouse_http_request_duration_seconds_bucket{{component="warehouse",'
    'route=~"/order|/orders"}}[{w}])))'
)
# a fallback is a label comparison PromQL cannot make: home_region != the scraped region
STORED_BY_HOME = (
    'sum by (region, home_region) (increase(warehouse_orders_total{{component="warehouse",'
    'outcome="created"}}[{w}]))'
)


def run_answers(base_url: str, window_s: float) -> RunAnswers:
    """Orders/s per region, p99 latency and fallbacks over the last ``window_s`` seconds."""
    seconds = max(int(window_s), 2)
    window = f"{seconds}s"
    rates = query(base_url, ORDERS_PER_S.format(w=window, s=seconds))
    p99 = query(base_url, P99_SECONDS.format(w=window))
    by_home = query(base_url, STORED_BY_HOME.format(w=window))
    p99_value = float(p99[0]["value"][1]) if p99 else float("nan")
    fallbacks = sum(
        float(r["value"][1])
        for r in by_home
        if r["metric"].get("home_region") != r["metric"].get("region")
    )
    return RunAnswers(
        orders_per_s={r["metric"].get("region", "?"): float(r["value"][1]) for r in rates},
        p99_ms=None if p99_value != p99_value else p99_value * 1000,  # NaN: no request
        fallbacks=round(fallbacks),
    )
