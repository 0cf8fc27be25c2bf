"""Chaos Mesh experiments in the chart (issue 13 item 7, ``chaos.*``): a region's warehouse pod
killed, cut off from its clients, or slowed, one-shot or on a Schedule.

Rendered with the real helm; each experiment's selectors are matched against the labels of the
pods the same render makes (not against a copy of the labels), and every rendered experiment
is validated against Chaos Mesh's v1alpha1 schemas (``crds/chaos-mesh/``, a hand-written subset:
see its README) with ``jsonschema``, which is shown to refuse what Chaos Mesh would refuse.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from order_contracts.labels import REGION_LABEL

from . import chaos_mesh
from .helpers import CHART, by_kind, one, render_chart, render_error, run_helm

CHAOS_API = [chaos_mesh.API_VERSION]
ON = {"chaos": {"enabled": True}}
SCHEDULED = {
    "chaos": {
        "enabled": True,
        "podKill": {"schedule": "@every 60s"},
        "partition": {"schedule": "*/5 * * * *"},
        "delay": {"schedule": "@every 2m"},
    }
}
#: other regions, a release name of its own, Airflow elsewhere with an expression selector
NON_DEFAULT = {
    "fullnameOverride": "shop",
    "regions": [{"name": "SGN"}, {"name": "HPH"}],
    "proximity": "SGN=HPH;HPH=SGN",
    "airflow": {
        "namespace": "airflow",
        "podSelector": {
            # null drops the default's component: worker (helm merges maps)
            "matchLabels": {"tier": "airflow", "component": None},
            "matchExpressions": [
                {"key": "component", "operator": "In", "values": ["worker", "triggerer"]}
            ],
        },
    },
    "stress": {"enabled": True, "target": "nodes"},
    "chaos": {
        "enabled": True,
        "region": "hph",
        "podKill": {"gracePeriod": 5, "schedule": "@hourly"},
        "partition": {"duration": "45s", "clients": ["airflow"]},
        "delay": {"latency": "1s", "jitter": "0ms", "correlation": "100", "duration": "2m"},
    },
}


def _render(values: dict | None = ON) -> list[dict]:
    return render_chart(values=values, api_versions=CHAOS_API)


def _chaos(docs: list[dict]) -> list[dict]:
    return [d for d in docs if d["apiVersion"].startswith("chaos-mesh.org/")]


def _selects(selector: dict, namespace: str, labels: dict[str, str]) -> bool:
    """Chaos Mesh's PodSelectorSpec semantics for the fields the chart uses (all ANDed)."""
    if namespace not in selector.get("namespaces", [namespace]):
        return False
    if any(labels.get(k) != v for k, v in selector.get("labelSelectors", {}).items()):
        return False
    for expr in selector.get("expressionSelectors", []):
        present, value = expr["key"] in labels, labels.get(expr["key"])
        matched = {
            "In": present and value in expr.get("values", []),
            "NotIn": not present or value not in expr.get("values", []),
            "Exists": present,
            "DoesNotExist": not present,
        }[expr["operator"]]
        if not matched:
            return False
    return True


def _pods(docs: list[dict], namespace: str = "orders") -> dict[str, dict[str, str]]:
    """kind/name -> the labels of the pods each workload of the render makes."""
    return {
        f"{d['kind']}/{d['metadata']['name']}": d["spec"]["template"]["metadata"]["labels"]
        for d in docs
        if d["kind"] in {"StatefulSet", "Deployment", "Job"}
    }


def _selected(selector: dict, docs: list[dict], namespace: str = "orders") -> list[str]:
    return sorted(
        name for name, labels in _pods(docs).items() if _selects(selector, namespace, labels)
    )


def _without_token(docs: list[dict]) -> list[dict]:
    return [d for d in docs if d["kind"] != "Secret"]


def test_nothing_renders_when_chaos_is_off():
    # every experiment configured, scheduled even, but chaos.enabled false: not one object more
    off = copy.deepcopy(SCHEDULED)
    off["chaos"]["enabled"] = False
    docs = _render(off)
    assert _chaos(docs) == []
    # and nothing else changes either (but the token Secret: random on each render)
    assert _without_token(docs) == _without_token(render_chart())
    assert not [d for d in docs if d["metadata"]["name"].startswith("orders-kill-")]


def test_chaos_on_without_chaos_mesh_in_the_cluster_is_refused_saying_so():
    message = render_error(ON)
    assert "chaos.enabled needs Chaos Mesh" in message
    assert "does not serve chaos-mesh.org/v1alpha1" in message


@pytest.mark.parametrize("region", ["SGN", "H"])
def test_the_region_must_be_one_of_the_charts_regions(region):
    message = render_error({"chaos": {"enabled": True, "region": region}})
    assert f'chaos.region "{region}" is not one of this release\'s regions (HCM, HN, DN)' in message


def test_the_region_is_matched_like_the_charts_regions_case_insensitively():
    docs = _chaos(_render({"chaos": {"enabled": True, "region": "hcm"}}))
    assert {d["metadata"]["labels"][REGION_LABEL] for d in docs} == {"HCM"}
    assert "orders-kill-hcm" in {d["metadata"]["name"] for d in docs}


def test_pod_kill_deletes_one_pod_of_the_region_at_once_by_the_charts_own_labels():
    docs = _render(ON)
    kill = one(docs, "PodChaos", "orders-kill-hn")
    spec = kill["spec"]
    assert spec["action"] == "pod-kill" and spec["mode"] == "one" and spec["gracePeriod"] == 0
    assert "duration" not in spec  # one-shot in Chaos Mesh: a duration would mean nothing
    # the StatefulSet's own selector, so it selects that region's pods and nothing else
    sts = one(docs, "StatefulSet", "orders-warehouse-hn")
    assert spec["selector"]["labelSelectors"] == sts["spec"]["selector"]["matchLabels"]
    assert _selected(spec["selector"], docs) == ["StatefulSet/orders-warehouse-hn"]
    assert kill["metadata"]["labels"]["app.kubernetes.io/component"] == "chaos"


def test_partition_cuts_the_region_off_from_the_stress_job_and_the_airflow_workers():
    docs = _render({"stress": {"enabled": True}, "chaos": {"enabled": True}})
    parts = {d["metadata"]["name"]: d["spec"] for d in by_kind(docs, "NetworkChaos")}
    stress, airflow = parts["orders-partition-hn-stress"], parts["orders-partition-hn-airflow"]
    for spec in (stress, airflow):
        assert spec["action"] == "partition" and spec["direction"] == "both"
        assert spec["duration"] == "30s"
        assert spec["mode"] == "all" and spec["target"]["mode"] == "all"
        assert _selected(spec["selector"], docs) == ["StatefulSet/orders-warehouse-hn"]
    # the stress Job of this very render (its name carries the revision)
    assert _selected(stress["target"]["selector"], docs) == ["Job/orders-stress-1"]
    # the Airflow workers: the pods airflow.podSelector names (the NetworkPolicy's peer too)
    worker = {"tier": "airflow", "component": "worker", "release": "airflow"}
    assert _selects(airflow["target"]["selector"], "orders", worker)
    assert not _selects(airflow["target"]["selector"], "orders", {**worker, "component": "web"})
    assert _selected(airflow["target"]["selector"], docs) == []  # none of the chart's own pods


def test_partition_follows_airflow_elsewhere_and_can_spare_a_client():
    docs = _render(NON_DEFAULT)
    (part,) = by_kind([d for d in docs if "partition" in d["metadata"]["name"]], "NetworkChaos")
    assert part["metadata"]["name"] == "shop-partition-hph-airflow"
    target = part["spec"]["target"]["selector"]
    assert target["namespaces"] == ["airflow"]
    worker = {"tier": "airflow", "component": "worker"}
    assert _selects(target, "airflow", worker)
    assert _selects(target, "airflow", {**worker, "component": "triggerer"})
    assert not _selects(target, "airflow", {**worker, "component": "scheduler"})
    assert not _selects(target, "orders", worker)
    assert part["spec"]["duration"] == "45s"


def test_delay_slows_everything_the_region_sends_with_the_values_netem():
    docs = _render(NON_DEFAULT)
    delay = one(docs, "NetworkChaos", "shop-delay-hph")["spec"]
    assert delay["action"] == "delay" and delay["mode"] == "all"
    assert delay["delay"] == {"latency": "1s", "jitter": "0ms", "correlation": "100"}
    assert delay["duration"] == "2m"
    assert "target" not in delay  # every packet the pod sends, whoever it goes to
    assert _selected(delay["selector"], docs) == ["StatefulSet/shop-warehouse-hph"]


def test_a_schedule_runs_the_same_experiment_again_never_two_at_once():
    once = {d["metadata"]["name"]: d for d in _chaos(_render(ON))}
    scheduled = {d["metadata"]["name"]: d for d in _chaos(_render(SCHEDULED))}
    assert set(scheduled) == set(once)
    crons = {"kill": "@every 60s", "partition": "*/5 * * * *", "delay": "@every 2m"}
    for name, schedule in scheduled.items():
        assert schedule["kind"] == "Schedule"
        spec = schedule["spec"]
        assert spec["schedule"] == crons[name.split("-")[1]]
        assert spec["concurrencyPolicy"] == "Forbid"
        assert spec["historyLimit"] >= 1  # optional in the CRD; left out, a Schedule ran once
        kind = once[name]["kind"]
        assert spec["type"] == kind
        embedded = kind[0].lower() + kind[1:]  # podChaos, networkChaos
        assert spec[embedded] == once[name]["spec"]  # the experiment itself, unchanged
        assert schedule["metadata"]["labels"] == once[name]["metadata"]["labels"]


def test_each_experiment_can_be_left_out():
    off = {"enabled": False}
    values = {"chaos": {"enabled": True, "podKill": off, "delay": off}}
    names = {d["metadata"]["name"] for d in _chaos(_render(values))}
    assert names == {"orders-partition-hn-stress", "orders-partition-hn-airflow"}


@pytest.mark.parametrize(
    "values", [ON, SCHEDULED, NON_DEFAULT], ids=["one-shot", "scheduled", "non-default"]
)
def test_every_rendered_experiment_passes_chaos_mesh_schemas(values):
    docs = _chaos(_render(values))
    assert docs
    assert {d["kind"] for d in docs} <= set(chaos_mesh.KINDS)
    for doc in docs:
        assert chaos_mesh.errors(doc) == [], doc["metadata"]["name"]


def _doc(values: dict, name: str) -> dict:
    (doc,) = [d for d in _chaos(_render(values)) if d["metadata"]["name"] == name]
    return doc


def _set(doc: dict, path: str | tuple[str, ...], value: object) -> dict:
    """A copy of ``doc`` with ``path`` (dotted, or a tuple of keys) set to ``value`` (None:
    removed)."""
    doc = copy.deepcopy(doc)
    *parents, last = path.split(".") if isinstance(path, str) else path
    node = doc
    for key in parents:
        node = node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return doc


KILL, CUT, SLOW = "orders-kill-hn", "orders-partition-hn-stress", "orders-delay-hn"
NOT_ONE_OF = "is not one of"
REQUIRED = "is a required property"


@pytest.mark.parametrize(
    ("values", "name", "path", "value", "complaint"),
    [
        (ON, KILL, "spec.action", "pod-explode", f"spec/action: 'pod-explode' {NOT_ONE_OF}"),
        (ON, KILL, "spec.mode", "some", f"spec/mode: 'some' {NOT_ONE_OF}"),
        (ON, KILL, "spec.gracePeriod", -1, "spec/gracePeriod: -1 is less than"),
        (ON, KILL, "spec.selector", None, f"spec: 'selector' {REQUIRED}"),
        (ON, KILL, "spec.selector.labelSelector", {}, "'labelSelector' was unexpected"),
        (ON, CUT, "spec.direction", "sideways", f"spec/direction: 'sideways' {NOT_ONE_OF}"),
        (ON, CUT, "spec.target.selector", None, f"spec/target: 'selector' {REQUIRED}"),
        (ON, CUT, "spec.action", "cut", f"spec/action: 'cut' {NOT_ONE_OF}"),
        (ON, SLOW, "spec.delay.latency", None, f"spec/delay: 'latency' {REQUIRED}"),
        (ON, SLOW, "spec.delay", None, f"spec: 'delay' {REQUIRED}"),
        (ON, SLOW, "spec.duration", "30 seconds", "spec/duration: '30 seconds' does not match"),
        (ON, SLOW, "spec.delay.correlation", "150", "spec/delay/correlation: '150' does not"),
        (ON, SLOW, "kind", "NetworkChoas", "no Chaos Mesh schema for kind 'NetworkChoas'"),
        # ObjectMeta: what the API server checks on any object
        (ON, SLOW, "metadata.name", "Orders_Delay", "metadata/name: 'Orders_Delay' does not match"),
        (ON, SLOW, ("metadata", "labels", REGION_LABEL), "H" * 64, "is too long"),
        (SCHEDULED, KILL, "spec.type", None, f"spec: 'type' {REQUIRED}"),
        (SCHEDULED, KILL, "spec.concurrencyPolicy", "Sometimes", f"'Sometimes' {NOT_ONE_OF}"),
        (SCHEDULED, KILL, "spec.type", "NetworkChaos", f"spec: 'networkChaos' {REQUIRED}"),
        (SCHEDULED, KILL, "spec.podChaos.action", "pod-explode", "spec/podChaos/action: 'pod-"),
        (
            SCHEDULED,
            SLOW,
            "spec.networkChaos.mode",
            "most",
            f"spec/networkChaos/mode: 'most' {NOT_ONE_OF}",
        ),
    ],
)
def test_the_schemas_refuse_what_chaos_mesh_would(values, name, path, value, complaint):
    bad = _set(_doc(values, name), path, value)
    try:
        problems = chaos_mesh.errors(bad)
    except KeyError as error:
        problems = [str(error)]
    assert problems, f"{path}={value!r} was accepted"
    assert any(complaint in p for p in problems), problems


def test_the_schemas_are_valid_json_schemas_closed_where_the_crds_are():
    files = sorted(chaos_mesh.SCHEMAS.glob("*.json"))
    assert {f.name for f in files} == {"common.json", *chaos_mesh.KINDS.values()}
    open_objects = []
    for path in files:
        schema = json.loads(path.read_text())
        Draft202012Validator.check_schema(schema)

        def walk(node: object, where: str, file: Path = path) -> None:
            if isinstance(node, dict):
                closed = node.get("additionalProperties") is False
                if node.get("type") == "object" and "properties" in node and not closed:
                    open_objects.append(f"{file.name}:{where}")
                for key, value in node.items():
                    walk(value, f"{where}.{key}")
            elif isinstance(node, list):
                for index, value in enumerate(node):
                    walk(value, f"{where}[{index}]")

        walk(schema, "$")
    # ObjectMeta is open in every CRD (the API server checks it itself)
    assert open_objects == ["common.json:$.$defs.metadata"]


@pytest.mark.parametrize(
    ("chaos", "complaint"),
    [
        ({"region": "H-N"}, "/chaos/region"),
        ({"podKill": {"mode": "all"}}, "mode"),
        ({"podKill": {"gracePeriod": -1}}, "/chaos/podKill/gracePeriod"),
        ({"podKill": {"schedule": "every minute"}}, "/chaos/podKill/schedule"),
        ({"partition": {"duration": "30 seconds"}}, "/chaos/partition/duration"),
        ({"partition": {"clients": ["kafka"]}}, "/chaos/partition/clients"),
        ({"partition": {"clients": []}}, "/chaos/partition/clients"),
        ({"delay": {"correlation": "150"}}, "/chaos/delay/correlation"),
        ({"delay": {"latency": "fast"}}, "/chaos/delay/latency"),
        ({"enabled": "yes"}, "/chaos/enabled"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else v,
)
def test_values_schema_refuses_bad_chaos_values(chaos, complaint):
    assert complaint in render_error({"chaos": chaos})


def test_a_schedule_name_leaves_chaos_mesh_room_to_name_its_runs():
    # 35 + "-partition-" + 4 + "-stress" = 57: a Schedule just fits
    chaos = {"enabled": True, "region": "ABCD", "partition": {"clients": ["stress"]}}
    chaos["partition"]["schedule"] = "@hourly"
    values = {"fullnameOverride": "a" * 35, "regions": [{"name": "ABCD"}], "chaos": chaos}
    names = {d["metadata"]["name"] for d in by_kind(_render(values), "Schedule")}
    assert f"{'a' * 35}-partition-abcd-stress" in names
    # one more: Chaos Mesh's runs, <name>-<5 random characters>, would not fit 63
    values["fullnameOverride"] = "a" * 36
    result = run_helm(
        ["template", "orders", str(CHART), "--api-versions", chaos_mesh.API_VERSION], values
    )
    assert result.returncode != 0
    assert (
        "the Schedule name" in result.stderr and "is 58 characters, at most 57 fit" in result.stderr
    )
    # the same name as a one-shot experiment is fine (at most 63)
    del chaos["partition"]["schedule"]
    assert one(_render(values), "NetworkChaos", f"{'a' * 36}-partition-abcd-stress")
