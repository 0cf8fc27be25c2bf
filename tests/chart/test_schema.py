"""helm lint --strict passes, and values.schema.json refuses wrong values at install time."""

from __future__ import annotations

import json

import pytest

from .helpers import CHART, render_error, run_helm

NON_DEFAULT = {
    "regions": [{"name": "SGN", "replicas": 1, "storage": {"size": "2Gi"}}, {"name": "HPH"}],
    "proximity": "SGN=HPH;HPH=SGN",
    "regionNodeSelector": True,
    "nodeApi": {"token": "a-long-enough-token-value"},
    "controller": {"priority": "50", "verbose": True},
    "airflow": {"namespace": "airflow"},
    "monitoring": {
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True},
        "grafanaDashboard": {"enabled": True},
    },
    "stress": {"enabled": True, "target": "nodes", "orders": 50, "verify": True},
}


@pytest.mark.parametrize("values", [None, NON_DEFAULT], ids=["defaults", "non-default"])
def test_helm_lint_strict_passes(values):
    result = run_helm(["lint", "--strict", str(CHART)], values)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_schema_is_valid_json_with_no_open_objects():
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["additionalProperties"] is False

    def objects(node, path="$"):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                yield path, node
            for key, value in node.items():
                yield from objects(value, f"{path}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from objects(value, f"{path}[{index}]")

    # Kubernetes objects passed through verbatim (EnvVar) are checked by the API server instead
    passthrough = {"$.definitions.envList.items"}
    open_objects = [
        path for path, node in objects(schema) if node.get("additionalProperties") is not False
    ]
    assert sorted(set(open_objects) - passthrough) == []


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"regions": []}, "regions"),
        ({"regions": [{"name": "HO-CHI-MINH"}]}, "name"),
        ({"regions": [{"name": "HCM", "size": "1Gi"}]}, "size"),
        ({"regoins": [{"name": "HCM"}]}, "regoins"),
        ({"image": {"repository": "x", "pullPolicy": "Sometimes"}}, "pullPolicy"),
        ({"warehouse": {"replicas": -1}}, "replicas"),
        # two replicas would be two shards behind one Service: an order could be stored twice
        ({"regions": [{"name": "HCM", "replicas": 2}]}, "replicas"),
        ({"warehouse": {"storage": {"size": "lots"}}}, "size"),
        ({"warehouse": {"resources": {"limits": {"cpu": "fast"}}}}, "cpu"),
        ({"nodeApi": {"token": "short"}}, "token"),
        ({"controller": {"metricsPort": 70000}}, "metricsPort"),
        ({"controller": {"logFormat": "xml"}}, "logFormat"),
        ({"monitoring": {"serviceMonitor": {"enabled": "yes"}}}, "enabled"),
        ({"stress": {"target": "kafka"}}, "target"),
        ({"stress": {"minSuccess": 1.5}}, "minSuccess"),
        ({"stress": {"endpoint": "airflow:8080"}}, "endpoint"),
        ({"proximity": "HCM->DN"}, "proximity"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else v,
)
def test_schema_rejects_bad_values(values, complaint):
    error = render_error(values)
    assert "values don't meet the specifications of the schema" in error
    assert complaint in error


def test_duplicate_regions_are_refused_with_a_clear_message():
    error = render_error({"regions": [{"name": "HCM"}, {"name": "hcm"}]})
    assert "regions: hcm is listed twice" in error
