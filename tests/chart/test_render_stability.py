"""Rendering twice with the same values gives the same manifest, apart from generated secret
values (which `lookup` keeps on a real upgrade, tests/chart/test_upgrade_lookup.py): so a
`helm upgrade` with unchanged values changes no pod template and restarts nothing."""

from __future__ import annotations

import pytest

from .helpers import PROMETHEUS_OPERATOR_APIS, render_chart
from .test_replication import REPLICATED
from .test_schema import NON_DEFAULT
from .test_tls import CERT_MANAGER

#: (kind, name, data key) of every value the chart generates at render time
GENERATED = {("Secret", "orders-node-token", "token")}


def _without_generated(docs: list[dict]) -> list[dict]:
    for doc in docs:
        for kind, name, key in GENERATED:
            if doc["kind"] == kind and doc["metadata"]["name"] == name:
                doc["data"][key] = "<generated>"
    return docs


@pytest.mark.parametrize(
    "values",
    [None, NON_DEFAULT, REPLICATED, {**REPLICATED, **CERT_MANAGER, "stress": {"enabled": True}}],
    ids=["defaults", "non-default", "replication", "tls"],
)
def test_two_renders_differ_only_in_generated_secret_values(values):
    def render() -> list[dict]:
        return render_chart(values=values, api_versions=PROMETHEUS_OPERATOR_APIS, cached=False)

    first, second = render(), render()
    # the generated values really are random (so the comparison below is not vacuous) ...
    tokens = [
        next(d for d in docs if d["kind"] == "Secret")["data"]["token"] for docs in (first, second)
    ]
    given = (values or {}).get("nodeApi", {}).get("token")
    assert (tokens[0] == tokens[1]) == bool(given)
    # ... and nothing else differs
    assert _without_generated(first) == _without_generated(second)


def test_pod_templates_do_not_embed_generated_values():
    """A checksum of the token Secret in a pod annotation would roll every pod on each render."""
    docs = render_chart(values={"stress": {"enabled": True}})
    for doc in docs:
        template = doc.get("spec", {}).get("template", {})
        annotations = template.get("metadata", {}).get("annotations") or {}
        assert not any("checksum" in key for key in annotations), doc["metadata"]["name"]
