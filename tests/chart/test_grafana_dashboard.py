"""The Grafana dashboard ConfigMap: off by default, labelled for Grafana's dashboard sidecar,
and holding ``files/orders-dashboard.json`` byte for byte (the one file the docs point at and
tests/localmode/test_grafana_dashboard.py checks against live processes)."""

from __future__ import annotations

import json

from .helpers import CHART, render_chart, render_error
from .test_kubernetes_validate import SCENARIOS

DASHBOARD = CHART / "files" / "orders-dashboard.json"
TEMPLATE = "templates/grafana-dashboard.yaml"
NAME = "orders-grafana-dashboard"


def _configmaps(values=None) -> list[str]:
    # a full render: helm refuses --show-only for a template that renders nothing
    return [d["metadata"]["name"] for d in render_chart(values=values) if d["kind"] == "ConfigMap"]


def _dashboard(**settings) -> dict:
    values = {"monitoring": {"grafanaDashboard": {"enabled": True, **settings}}}
    (doc,) = render_chart(values=values, show_only=[TEMPLATE])
    return doc


def test_should_not_render_the_dashboard_by_default():
    assert NAME not in _configmaps()


def test_should_hold_the_dashboard_file_unchanged_with_the_sidecar_label():
    doc = _dashboard()
    assert (doc["kind"], doc["metadata"]["name"]) == ("ConfigMap", NAME)
    labels = doc["metadata"]["labels"]
    assert labels["grafana_dashboard"] == "1"
    assert labels["app.kubernetes.io/component"] == "monitoring"
    assert "annotations" not in doc["metadata"]
    assert list(doc["data"]) == ["orders-dashboard.json"]
    assert doc["data"]["orders-dashboard.json"] == DASHBOARD.read_text().rstrip("\n")


def test_labels_and_annotations_reach_the_configmap_and_may_override_the_sidecar_label():
    doc = _dashboard(
        labels={"grafana_dashboard": "orders", "team": "ops"},
        annotations={"grafana_folder": "Orders"},
    )
    labels = doc["metadata"]["labels"]
    assert (labels["grafana_dashboard"], labels["team"]) == ("orders", "ops")
    assert doc["metadata"]["annotations"] == {"grafana_folder": "Orders"}


def test_kubernetes_validate_covers_the_dashboard_configmap():
    # test_kubernetes_validate.py validates every scenario strictly; one of them must render it
    assert any(NAME in _configmaps(values) for values in SCENARIOS.values())


def test_schema_refuses_a_non_boolean_switch():
    error = render_error({"monitoring": {"grafanaDashboard": {"enabled": "yes"}}})
    assert "values don't meet the specifications of the schema" in error
    assert "enabled" in error


def test_dashboard_is_well_formed_for_grafana():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "regional-orders"
    panels = dashboard["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert variables == {"datasource", "region"}
    for panel in (p for p in panels if p["type"] != "row"):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
