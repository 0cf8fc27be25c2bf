"""Every PromQL expression of the Grafana dashboard parses and names only metrics that live
processes export (issue 15, item 2).

The dashboard is ``charts/orders/files/orders-dashboard.json``, the very file the chart's
ConfigMap holds (tests/chart/test_grafana_dashboard.py). Here a real Prometheus (the Debian
package, ``localmode/prometheus.py``) scrapes every second a replicated HCM node (Litestream to a
``file://`` replica, so the replication metrics exist), a plain HN node and the local routing
source, labelled as the chart's ServiceMonitor relabelling labels them in a cluster. Then:

- every expression (panels and the ``region`` variable, with Grafana's ``$__rate_interval`` and
  ``$region`` filled in) parses: Prometheus 2.42 has no ``/api/v1/parse_query``, so its
  ``/api/v1/format_query`` (which parses and nothing else) is asked, and a refusal fails;
- every metric name an expression selects is one the processes export: the sample names of
  their ``/metrics`` (exact names, so a histogram is used through ``_bucket``/``_sum``/``_count``
  and a counter through ``_total``), plus Prometheus's own ``up``;
- every expression returns data from the live Prometheus, except the ones listed in
  ``NO_DATA_HERE`` with the reason; the fallback panel shows exactly the one fallback sent.

The controller is not started: it needs an emulated Kubernetes API (kmock) in an asyncio test,
and this test is synchronous, waiting on Prometheus. Its metric names are taken from its own
registry instead (``controller.metrics.Metrics``, the one ``controller.cli`` serves), read from
the ``# TYPE`` lines of its exposition, since a labelled counter has no sample before its first
use. Its panels are exempt from the has-data check only; tests/controller/test_dashboard_metrics.py
runs the real operator against kmock and checks the same names on its live ``/metrics``.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from controller.metrics import Metrics as ControllerMetrics
from localmode.processes import ManagedProcess, wait_until
from localmode.prometheus import REPO_ROOT, ScrapeTarget, prometheus_process, query
from tests.conftest import READY_TIMEOUT, NodeFactory, RunningNode
from tests.localmode.test_routing_source import routing_source_process
from tests.support.orders import order

DASHBOARD = REPO_ROOT / "charts" / "orders" / "files" / "orders-dashboard.json"
#: what Grafana fills in (``$region``: the variable's "All" value)
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$region": ".*"}
#: series Prometheus makes itself for every target
PROMETHEUS_OWN = {"up"}
#: panel title -> why its expressions return nothing in this test
NO_DATA_HERE = {"HTTP 5xx/s": "no request fails here"}
TIMEOUT = 60.0  # generous: two cores shared by the suite; each wait ends when the state shows

PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and"}
PROMQL_WORDS |= {"or", "unless", "offset", "inf", "nan"}


def dashboard_expressions() -> list[tuple[str, str]]:
    """(where, expression) of every panel target and of the query variables."""
    dashboard = json.loads(DASHBOARD.read_text())
    found = [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            match = re.fullmatch(r"label_values\((.*), *\w+\)", variable["definition"])
            assert match, f"variable {variable['name']}: not label_values(selector, label)"
            found.append((f"${variable['name']}", match.group(1)))
    return found


def grafana_filled(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in re.sub(r'"[^"]*"', "", expr), f"unknown Grafana variable in {expr}"
    return expr


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects: identifiers left once strings, label matchers,
    ranges and grouping clauses are removed, that are not followed by "(" (a function or an
    aggregation) and are not PromQL keywords."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", bare)
    bare = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", bare)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][\w:]*)\s*(\()?", bare):
        if match.group(2) is None and match.group(1) not in PROMQL_WORDS:
            names.add(match.group(1))
    return names


def test_metric_names_finds_selected_metrics_only() -> None:
    expr = (
        'sum by (region, le) (rate(a_bucket{x="y(z)"}[5m])) / on (region) b_total'
        ' unless label_replace(max by (region) (up), "l", "$1", "region", "(.*)") > bool 0.5'
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "up"}


def exposed_names(text: str) -> set[str]:
    """Sample names of one ``/metrics`` text; a family without samples yet (a labelled metric
    never used) counts by its ``# TYPE`` name, with a histogram's or summary's own suffixes."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.update(sample.name for sample in family.samples)
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.MULTILINE):
        if kind == "histogram":
            names.update(f"{name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
        elif kind == "summary":
            names.update(f"{name}{suffix}" for suffix in ("", "_sum", "_count"))
        else:
            names.add(name)
    return names


def format_query(base_url: str, expr: str) -> tuple[bool, str]:
    """(parsed, Prometheus's formatted query or its parse error)."""
    url = f"{base_url}/api/v1/format_query?{urllib.parse.urlencode({'query': expr})}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (local URL)
            return True, str(json.loads(response.read())["data"])
    except urllib.error.HTTPError as refused:  # 400 bad_data: the parse error
        return False, str(json.loads(refused.read()).get("error"))


@pytest.fixture
def live_parts(node_factory: NodeFactory, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Base URLs of a replicated HCM node, a plain HN node and a routing source, running."""
    replica = f"file://{tmp_path / 'replica'}"
    nodes: dict[str, RunningNode] = {
        "HCM": node_factory(
            "HCM", env={"NODE_REPLICA_URL": replica, "NODE_REPLICATION": "sync"}, wait=False
        ),
        "HN": node_factory("HN", wait=False),
    }
    for node in nodes.values():
        node.process.wait_ready(READY_TIMEOUT)
    source, _, _, routing_url = routing_source_process(nodes, tmp_path / "routing")
    source.start(ready_timeout=30)
    try:
        base = routing_url.rsplit("/", 1)[0]
        yield {"HCM": nodes["HCM"].url, "HN": nodes["HN"].url, "routing-source": base}
    finally:
        source.stop(grace=10)


@pytest.fixture
def prometheus(live_parts: dict[str, str], tmp_path: Path) -> Iterator[str]:
    targets = [ScrapeTarget("warehouse", live_parts[r], r) for r in ("HCM", "HN")]
    targets.append(ScrapeTarget("routing-source", live_parts["routing-source"]))
    process: ManagedProcess
    process, url = prometheus_process(targets, tmp_path / "prometheus", interval="1s")
    process.start(ready_timeout=30)
    try:
        yield url
    finally:
        process.stop(grace=10)


def test_every_panel_parses_names_exported_metrics_and_shows_live_data(
    live_parts: dict[str, str], prometheus: str
) -> None:
    expressions = [(where, grafana_filled(expr)) for where, expr in dashboard_expressions()]
    assert len(expressions) >= 20

    parsed = [(where, expr, *format_query(prometheus, expr)) for where, expr in expressions]
    refused = [(where, expr, why) for where, expr, ok, why in parsed if not ok]
    assert refused == [], f"Prometheus cannot parse: {refused}"

    # a series first scraped after the order would hold it from its first sample: no increase
    wait_until(lambda: len(query(prometheus, "up == 1")) == 3, TIMEOUT, 0.2, "every part scraped")
    # orders that make every order series move: two stored at home, one HN order on HCM
    with httpx.Client(timeout=30) as http:
        for url, home in ((live_parts["HCM"], "HCM"), (live_parts["HN"], "HN")):
            sent = http.post(f"{url}/order", json=order(home))
            assert sent.status_code == 201, sent.text
        fallback = http.post(f"{live_parts['HCM']}/order", json=order("HN"))
        assert fallback.status_code == 201, fallback.text
        scraped = {
            part: exposed_names(http.get(f"{url}/metrics").text) for part, url in live_parts.items()
        }
    controller = exposed_names(ControllerMetrics().text())
    exported = set().union(*scraped.values()) | controller | PROMETHEUS_OWN
    assert "warehouse_replication_lag_seconds" in scraped["HCM"], "HCM runs without its replica"

    for where, expr in expressions:
        names = metric_names(expr)
        assert names, f"{where}: no metric found in {expr}"
        assert names <= exported, f"{where}: {sorted(names - exported)} not exported by any part"

    def without_data() -> list[str]:
        return [
            f"{where}: {expr}"
            for where, expr in expressions
            if where not in NO_DATA_HERE and not metric_names(expr) & controller
            if not query(prometheus, expr)
        ]

    try:
        wait_until(lambda: not without_data(), TIMEOUT, interval=0.5, what="every panel's data")
    except TimeoutError:
        pytest.fail(f"no data from the live parts for: {without_data()}")

    (fallbacks_expr,) = [e for w, e in expressions if w == "Fallbacks/s"]

    def fallback_pairs() -> set[tuple[str, str]]:
        return {
            (r["metric"]["home_region"], r["metric"]["region"])
            for r in query(prometheus, fallbacks_expr)
            if float(r["value"][1]) > 0
        }

    try:
        wait_until(lambda: fallback_pairs() == {("HN", "HCM")}, TIMEOUT, 0.5, "the fallback")
    except TimeoutError:
        pytest.fail(f"fallbacks panel: {query(prometheus, fallbacks_expr)}")
    # an order stored at home is never a fallback, whatever its rate
    pairs = [
        (r["metric"]["home_region"], r["metric"]["region"])
        for r in query(prometheus, fallbacks_expr)
    ]
    assert pairs and all(home != region for home, region in pairs), pairs
