"""One way to render the chart in tests: the real ``helm`` binary, parsed into dicts.

Mirrors Apache Airflow's chart tests: ``render_chart(values=..., show_only=[...])`` returns the
rendered documents; assertions then read exact paths with jmespath. Nothing is mocked: if the
chart does not render with helm, the test fails with helm's own message.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "orders"
RELEASE = "orders"
NAMESPACE = "orders"
#: the API a cluster with the Prometheus Operator serves (for the "auto" monitoring switches)
PROMETHEUS_OPERATOR_APIS = (
    "monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PrometheusRule",
)

Doc = dict[str, Any]


def helm_binary() -> str:
    """``.tools/bin/helm`` (scripts/fetch-helm.sh), else one on PATH."""
    local = ROOT / ".tools" / "bin" / "helm"
    if local.exists():
        return str(local)
    found = shutil.which("helm")
    if found is None:
        raise RuntimeError(
            "helm not found: run `bash scripts/bootstrap.sh` (fetches .tools/bin/helm)"
        )
    return found


def run_helm(
    args: list[str], values: Mapping[str, Any] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run helm with ``values`` passed as a values file; never raises on a non-zero exit."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [helm_binary(), *args]
        if values is not None:
            values_file = Path(tmp) / "values.json"  # JSON is YAML
            values_file.write_text(json.dumps(values))
            cmd += ["--values", str(values_file)]
        env = {**os.environ, "HELM_CACHE_HOME": tmp, "HELM_CONFIG_HOME": tmp, "HELM_DATA_HOME": tmp}
        return subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=120, check=False
        )


def render_chart(
    values: Mapping[str, Any] | None = None,
    show_only: Iterable[str] = (),
    api_versions: Iterable[str] = (),
    include_crds: bool = False,
    kube_version: str | None = None,
    name: str = RELEASE,
    namespace: str = NAMESPACE,
    cached: bool = True,
) -> list[Doc]:
    """``helm template`` the chart and return its documents (empty ones dropped).

    Identical renders are done once per test session (the chart does not change while the tests
    run); every caller gets its own copy to mutate.
    """
    key = json.dumps(
        [values, list(show_only), list(api_versions), include_crds, kube_version, name, namespace],
        sort_keys=True,
    )
    if not cached:
        return _render_cached.__wrapped__(key)
    return copy.deepcopy(_render_cached(key))


@functools.lru_cache(maxsize=256)
def _render_cached(key: str) -> list[Doc]:
    values, show_only, api_versions, include_crds, kube_version, name, namespace = json.loads(key)
    args = ["template", name, str(CHART), "--namespace", namespace]
    for template in show_only:
        args += ["--show-only", template]
    for api in api_versions:
        args += ["--api-versions", api]
    if include_crds:
        args.append("--include-crds")
    if kube_version:
        args += ["--kube-version", kube_version]
    result = run_helm(args, values)
    if result.returncode != 0:
        raise AssertionError(f"helm template failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def render_error(values: Mapping[str, Any]) -> str:
    """helm's error message for values that must not render (fails the test if they do)."""
    result = run_helm(["template", RELEASE, str(CHART), "--namespace", NAMESPACE], values)
    if result.returncode == 0:
        raise AssertionError(f"helm template accepted values it should refuse: {values}")
    return result.stderr


def by_kind(docs: Iterable[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: Iterable[Doc], kind: str, name: str) -> Doc:
    matches = [doc for doc in docs if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, got {len(matches)}"
    return matches[0]


def pod_specs(docs: Iterable[Doc]) -> list[tuple[str, Doc]]:
    """(kind/name, pod spec) of every workload and bare pod in ``docs``."""
    specs = []
    for doc in docs:
        label = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] in {"StatefulSet", "Deployment", "Job", "DaemonSet"}:
            specs.append((label, doc["spec"]["template"]["spec"]))
        elif doc["kind"] == "Pod":
            specs.append((label, doc["spec"]))
    return specs


def env_of(container: Doc) -> dict[str, Any]:
    """A container's env as {name: value or valueFrom}."""
    return {
        item["name"]: item.get("value", item.get("valueFrom")) for item in container.get("env", [])
    }
