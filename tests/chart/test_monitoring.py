"""Monitoring: ServiceMonitors and the PrometheusRule appear when the Prometheus Operator's API
is there (or when forced), the rules pass promtool, and they name metrics the code exports."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from controller.metrics import Metrics as ControllerMetrics
from localmode.routing_source import LocalRoutingSource
from order_contracts.labels import COMPONENT_FOLLOWER, COMPONENT_LABEL, REGION_LABEL
from order_contracts.routing import RegionObservation, build_routing_document
from warehouse_node.litestream import ControlClient
from warehouse_node.metrics import NodeMetrics
from warehouse_node.replication import Replicator

from .helpers import CHART, PROMETHEUS_OPERATOR_APIS, ROOT, by_kind, one, render_chart
from .test_replication import REPLICATED

ALERTS = CHART / "files" / "alerts.yaml"
PROMTOOL_TESTS = sorted((Path(__file__).parent / "promtool").glob("*.yaml"))
OPERATOR_KINDS = {"ServiceMonitor", "PrometheusRule"}


def _operator_kinds(values=None, api_versions=()) -> list[str]:
    # a full render: helm refuses --show-only for a template that renders nothing
    docs = render_chart(values=values, api_versions=api_versions)
    return sorted(d["kind"] for d in docs if d["kind"] in OPERATOR_KINDS)


def test_should_skip_operator_objects_when_the_api_is_absent():
    assert _operator_kinds() == []


def test_should_render_operator_objects_when_the_api_is_served():
    kinds = _operator_kinds(api_versions=PROMETHEUS_OPERATOR_APIS)
    assert kinds == ["PrometheusRule", "ServiceMonitor", "ServiceMonitor"]


@pytest.mark.parametrize(
    ("setting", "apis", "expected"),
    [(True, (), 3), (False, PROMETHEUS_OPERATOR_APIS, 0)],
    ids=["forced-on-without-api", "forced-off-with-api"],
)
def test_values_override_the_api_detection(setting, apis, expected):
    values = {
        "monitoring": {
            "serviceMonitor": {"enabled": setting},
            "prometheusRule": {"enabled": setting},
        }
    }
    assert len(_operator_kinds(values, apis)) == expected


def test_warehouse_servicemonitor_scrapes_every_region_with_region_labels():
    docs = render_chart(api_versions=PROMETHEUS_OPERATOR_APIS)
    monitor = one(docs, "ServiceMonitor", "orders-warehouse")
    selector = monitor["spec"]["selector"]["matchLabels"]
    selected = [
        s for s in by_kind(docs, "Service") if selector.items() <= s["metadata"]["labels"].items()
    ]
    assert sorted(s["metadata"]["name"] for s in selected) == [
        "orders-warehouse-dn",
        "orders-warehouse-hcm",
        "orders-warehouse-hn",
    ]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http", "/metrics")
    relabel = {r["targetLabel"]: r["sourceLabels"] for r in endpoint["relabelings"]}

    def meta(label: str) -> list[str]:
        return ["__meta_kubernetes_service_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", label)]

    assert relabel == {"component": meta(COMPONENT_LABEL), "region": meta(REGION_LABEL)}


def test_controller_servicemonitor_scrapes_the_metrics_service():
    docs = render_chart(api_versions=PROMETHEUS_OPERATOR_APIS)
    monitor = one(docs, "ServiceMonitor", "orders-controller")
    service = one(docs, "Service", "orders-controller-metrics")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert (
        monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"] == "metrics"
    )


def test_prometheusrule_holds_exactly_the_rule_file():
    (rule,) = render_chart(
        show_only=["templates/prometheusrule.yaml"], api_versions=PROMETHEUS_OPERATOR_APIS
    )
    assert rule["spec"] == yaml.safe_load(ALERTS.read_text())
    alerts = [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert alerts == [
        "WarehouseNodeDown",
        "NoReadyRegion",
        "WarehouseHighErrorRate",
        "WarehouseHighLatencyP99",
        "WarehouseCommitLatencyHigh",
        "WarehouseReplicationFailing",
        "WarehouseReplicationLagHigh",
        "WarehouseRegionNotReady",
        "WarehouseControllerErrors",
        "WarehouseControllerDown",
        "AirflowDagRunsFailing",
    ]


def test_rendered_rules_pass_promtool_check(tmp_path):
    (rule,) = render_chart(
        show_only=["templates/prometheusrule.yaml"], api_versions=PROMETHEUS_OPERATOR_APIS
    )
    rendered = tmp_path / "rules.yaml"
    rendered.write_text(yaml.safe_dump(rule["spec"]))
    result = subprocess.run(
        ["promtool", "check", "rules", str(rendered)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 11 rules found" in result.stdout


@pytest.mark.parametrize("test_file", PROMTOOL_TESTS, ids=lambda p: p.name)
def test_promtool_unit_tests_pass(test_file):
    result = subprocess.run(
        ["promtool", "test", "rules", test_file.name],
        cwd=test_file.parent,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _exported(registry: CollectorRegistry) -> dict[str, set[str]]:
    """Sample names the registry exports, each with the label names it carries."""
    samples: dict[str, set[str]] = {}
    for family in registry.collect():
        for sample in family.samples:
            samples.setdefault(sample.name, set()).update(sample.labels)
    return samples


def test_rules_only_name_metrics_and_labels_the_code_exports():
    node = NodeMetrics(region="HCM", version="test")
    node.observe_request("POST", "/order", 500, 0.7)  # labelled series exist once used
    # A replicated node's metrics exist once replication is bound (no socket needed to export).
    node.bind_replication(Replicator(ControlClient(Path("/nonexistent"), Path("db")), "sync", 1))
    controller = ControllerMetrics()
    # per-region series exist once a document was seen
    controller.observe_document(
        build_routing_document([RegionObservation("HCM", "http://127.0.0.1:9", 1)], {}, None)
    )
    routing = LocalRoutingSource({"HCM": "http://127.0.0.1:9"}, {}, Path("/nonexistent"))
    routing.close()
    exported = (
        _exported(node.registry) | _exported(controller.registry) | _exported(routing.registry)
    )
    # `component` and `region` come from the ServiceMonitor relabelling; `le` from histograms
    added = {"component", "region", "instance", "le"}
    rules = yaml.safe_load(ALERTS.read_text())
    text = "\n".join(r["expr"] for g in rules["groups"] for r in g["rules"])
    used = set(re.findall(r"\b(warehouse_[a-z_]+)(?:\{([^}]*)\})?", text))
    assert used, "the rules reference no warehouse metric"
    for name, matchers in used:
        assert name in exported, f"{name} is not exported by the node, controller or routing"
        labels = set(re.findall(r"([a-z_]+)\s*(?:=~|!~|!=|=)", matchers))
        assert labels <= exported[name] | added, (
            f"{name}: unknown labels {labels - exported[name] - added}"
        )


def test_every_alert_links_its_runbook_section():
    from tests.docs.test_links import anchors

    runbooks = ROOT / "docs" / "runbooks.md"
    sections = anchors(runbooks)
    rules = yaml.safe_load(ALERTS.read_text())
    for rule in (r for g in rules["groups"] for r in g["rules"] if "alert" in r):
        url = rule["annotations"].get("runbook_url", "")
        assert url == f"docs/runbooks.md#{rule['alert'].lower()}", rule["alert"]
        assert url.partition("#")[2] in sections, f"docs/runbooks.md has no {rule['alert']}"


def test_runbook_base_url_makes_every_runbook_url_a_link():
    base = "https://git.example.com/org/orders/blob/main"
    (rule,) = render_chart(
        values={"monitoring": {"prometheusRule": {"enabled": True, "runbookBaseUrl": base + "/"}}},
        show_only=["templates/prometheusrule.yaml"],
    )
    urls = [r["annotations"]["runbook_url"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert urls and all(u.startswith(f"{base}/docs/runbooks.md#") for u in urls)


def _selected(docs, monitor) -> list[str]:
    selector = monitor["spec"]["selector"]["matchLabels"]
    return sorted(
        s["metadata"]["name"]
        for s in by_kind(docs, "Service")
        if selector.items() <= s["metadata"]["labels"].items()
    )


def test_followers_have_a_servicemonitor_of_their_own_labelled_as_followers():
    """REPLICATED: a follower in HCM only. Its series keep component="warehouse-follower" (from
    the Service's label, as local mode labels them), which the primaries' alerts do not select."""
    docs = render_chart(values=REPLICATED, api_versions=PROMETHEUS_OPERATOR_APIS)
    monitor = one(docs, "ServiceMonitor", "orders-warehouse-follower")
    assert _selected(docs, monitor) == ["orders-follower-hcm"]
    assert _selected(docs, one(docs, "ServiceMonitor", "orders-warehouse")) == [
        "orders-warehouse-dn",
        "orders-warehouse-hcm",
        "orders-warehouse-hn",
    ]
    (endpoint,) = monitor["spec"]["endpoints"]
    (port,) = one(docs, "Service", "orders-follower-hcm")["spec"]["ports"]
    assert (
        (endpoint["port"], endpoint["path"]) == (port["name"], "/metrics") == ("http", "/metrics")
    )
    assert "scheme" not in endpoint and "tlsConfig" not in endpoint
    component = next(r for r in endpoint["relabelings"] if r.get("targetLabel") == "component")
    assert component["sourceLabels"] == [
        "__meta_kubernetes_service_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", COMPONENT_LABEL)
    ]
    labels = one(docs, "Service", "orders-follower-hcm")["metadata"]["labels"]
    assert labels[COMPONENT_LABEL] == COMPONENT_FOLLOWER


def test_no_follower_no_follower_servicemonitor():
    values = {
        **REPLICATED,
        "replication": {**REPLICATED["replication"], "follower": {"enabled": False}},
    }
    docs = render_chart(values=values, api_versions=PROMETHEUS_OPERATOR_APIS)
    assert "orders-follower-hcm" not in {d["metadata"]["name"] for d in by_kind(docs, "Deployment")}
    assert sorted(m["metadata"]["name"] for m in by_kind(docs, "ServiceMonitor")) == [
        "orders-controller",
        "orders-warehouse",
    ]


def test_primary_alerts_select_primaries_only():
    """Followers export the node's metrics too: every alert on a node metric selects
    component="warehouse", except the replica lag, which a stale follower shares with its region
    (tests/chart/promtool/alerts_test.yaml feeds them follower series)."""
    rules = yaml.safe_load(ALERTS.read_text())
    shared = {"WarehouseReplicationLagHigh"}
    for rule in (r for g in rules["groups"] for r in g["rules"] if "alert" in r):
        node_metrics = re.findall(
            r"\b(up|warehouse_(?!controller_|routing_)[a-z_]+)\b(\{[^}]*\})?", rule["expr"]
        )
        for name, matchers in node_metrics:
            if rule["alert"] in shared or 'component="controller"' in matchers:
                continue  # the controller's own `up` is not a node's series
            assert 'component="warehouse"' in matchers, (rule["alert"], name)
