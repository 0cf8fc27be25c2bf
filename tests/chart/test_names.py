"""Names fit Kubernetes' 63 characters or the chart refuses them; never a silent truncation
into two colliding names. The StatefulSets are governed by headless Services."""

from __future__ import annotations

import pytest

from order_contracts.labels import COMPONENT_LABEL, COMPONENT_WAREHOUSE, REGION_LABEL

from .helpers import CHART, NAMESPACE, by_kind, one, render_chart, render_error, run_helm

#: the controller-revision-hash label value is "<statefulset>-<hash of up to 10 characters>"
MAX_STATEFULSET_NAME = 63 - 11


def test_a_56_character_fullname_override_is_refused_by_the_schema():
    error = render_error({"fullnameOverride": "a" * 56})
    assert "fullnameOverride" in error and "maxLength" in error and "want 40" in error


@pytest.mark.parametrize("value", ["Orders", "orders_x", "-orders", "orders-"])
def test_a_fullname_override_that_is_no_dns_label_is_refused(value):
    assert "fullnameOverride" in render_error({"fullnameOverride": value})


def test_a_long_release_name_is_refused_with_the_name_and_the_limit():
    release = "r" * 40  # the base name becomes "<release>-orders": 47 characters
    result = run_helm(["template", release, str(CHART), "--namespace", NAMESPACE])
    assert result.returncode != 0
    assert f'"{release}-orders" is 47 characters' in result.stderr
    assert "at most 40" in result.stderr


def test_a_long_region_name_with_a_long_base_name_is_refused_naming_the_region():
    error = render_error(
        {"fullnameOverride": "f" * 30, "regions": [{"name": "HCM"}, {"name": "LONGREGIONNAME16"}]}
    )
    assert "region LONGREGIONNAME16" in error
    assert f'"{"f" * 30}-warehouse-longregionname16" is 57 characters, at most 52' in error


def test_the_longest_accepted_names_all_fit():
    docs = render_chart(
        values={
            "fullnameOverride": "f" * 25,
            "regions": [{"name": "A" * 16}],
            "stress": {"enabled": True},
        },
        api_versions=("monitoring.coreos.com/v1/ServiceMonitor",),
    )
    for doc in docs:
        assert len(doc["metadata"]["name"]) <= 63, doc["metadata"]["name"]
    (sts,) = by_kind(docs, "StatefulSet")
    assert len(sts["metadata"]["name"]) == MAX_STATEFULSET_NAME
    also = render_chart(values={"fullnameOverride": "f" * 40, "regions": [{"name": "A"}]})
    assert max(len(d["metadata"]["name"]) for d in also) == 59  # <40>-controller-metrics
    assert len(one(also, "StatefulSet", "f" * 40 + "-warehouse-a")["metadata"]["name"]) == 52


def test_statefulsets_are_governed_by_a_headless_service_the_controller_ignores():
    docs = render_chart()
    for sts in by_kind(docs, "StatefulSet"):
        headless = one(docs, "Service", sts["spec"]["serviceName"])
        assert headless["spec"]["clusterIP"] == "None"
        assert headless["spec"]["selector"] == sts["spec"]["selector"]["matchLabels"]
        labels = headless["metadata"]["labels"]
        region = sts["spec"]["template"]["metadata"]["labels"][REGION_LABEL]
        assert labels[REGION_LABEL] == region
        # not a second warehouse of the region for the controller or a ServiceMonitor
        assert labels[COMPONENT_LABEL] != COMPONENT_WAREHOUSE
        # the clients' Service (the one in the routing document) keeps its ClusterIP
        client = one(docs, "Service", sts["metadata"]["name"])
        assert "clusterIP" not in client["spec"]
