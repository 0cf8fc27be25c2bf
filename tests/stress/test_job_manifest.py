"""``stress/job.yaml``: a valid Job that runs flags the CLI has, reading only the routing map."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.main import get_command

from order_contracts.labels import COMPONENT_LABEL, ROUTING_CONFIGMAP
from stress.cli import app

JOB_YAML = Path(__file__).resolve().parents[2] / "stress" / "job.yaml"
VALIDATE = Path(sys.executable).with_name("kubernetes-validate")


def documents() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(JOB_YAML.read_text())}


def test_job_passes_only_flags_and_variables_the_cli_knows() -> None:
    params = get_command(app).params
    known = {opt for param in params for opt in [*param.opts, *param.secondary_opts]}
    container = documents()["Job"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["orders-stress"]
    flags = {arg for arg in container["args"] if arg.startswith("--")}
    assert flags <= known
    assert {"--target", "--endpoint", "--verify", "--no-progress"} <= flags
    envvars = {param.envvar for param in params if param.envvar}
    env = {item["name"] for item in container["env"]}
    assert {"AIRFLOW_USERNAME", "AIRFLOW_PASSWORD", "NODE_API_TOKEN"} <= env & envvars


def test_job_is_the_stress_component_and_may_only_read_the_routing_configmap() -> None:
    docs = documents()
    pod = docs["Job"]["spec"]["template"]
    assert pod["metadata"]["labels"][COMPONENT_LABEL] == "stress"  # admitted by the NetworkPolicy
    assert pod["spec"]["serviceAccountName"] == docs["ServiceAccount"]["metadata"]["name"]
    assert docs["Job"]["spec"]["backoffLimit"] == 0
    assert docs["Role"]["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": [ROUTING_CONFIGMAP],
            "verbs": ["get"],
        }
    ]


@pytest.mark.parametrize("version", ["1.30.0", "1.34.0"])
def test_job_manifest_validates_strictly(version: str) -> None:
    result = subprocess.run(
        [str(VALIDATE), "--strict", "--quiet", "-k", version, str(JOB_YAML)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout and "WARN" not in result.stdout, result.stdout
