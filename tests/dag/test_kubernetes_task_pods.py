"""The KubernetesExecutor's task pods, rendered without a cluster.

``charts/airflow-values.yaml`` spells out the task pods' template (``podTemplate``, which the
official chart passes through helm's ``tpl``). Here real helm renders it the same way, and the
cncf-kubernetes provider's own ``airflow kubernetes generate-dag-yaml`` turns it and the parsed
``order_workflow`` into the pods the executor would launch, one per task. Those pods must pass
``kubernetes-validate --strict`` and carry what the design needs: the project's image, the
worker ServiceAccount (the one charts/orders lets read the routing ConfigMap), the DAG's
``ORDER_*`` settings, the node token from the orders chart's Secret, resources, the restricted
security context, and no database or signing secrets.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from localmode.airflow import DAGS_FOLDER, airflow_command
from tests.chart.helpers import ROOT, env_of, one, render_chart, run_helm

pytestmark = pytest.mark.airflow  # runs the airflow CLI

VALUES = ROOT / "charts" / "airflow-values.yaml"
VALIDATE = Path(sys.executable).with_name("kubernetes-validate")
KUBERNETES_VERSIONS = ["1.30.0", "1.34.0"]
#: the official chart's release name, fixed by scripts/k8s-common.sh
AIRFLOW_RELEASE = "airflow"
NAMESPACE = "orders"
TASKS = {"ingest", "assign", "process"}


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text())


@pytest.fixture(scope="module")
def pod_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``podTemplate`` through helm's ``tpl``, as the official chart's ConfigMap renders it."""
    chart = tmp_path_factory.mktemp("tpl-chart")
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: tpl\nversion: 0.0.0\n")
    (chart / "templates").mkdir()
    (chart / "templates" / "pod.yaml").write_text("{{ tpl .Values.podTemplate . }}\n")
    result = run_helm(["template", AIRFLOW_RELEASE, str(chart), "-n", NAMESPACE, "-f", str(VALUES)])
    assert result.returncode == 0, result.stderr
    path = chart / "pod_template_file.yaml"
    path.write_text(result.stdout)
    return path


@pytest.fixture(scope="module")
def task_pods(airflow_db: Path, pod_template: Path, tmp_path_factory) -> dict[str, dict]:
    """task_id → the pod ``airflow kubernetes generate-dag-yaml`` writes for it."""
    out = tmp_path_factory.mktemp("generated")
    env = {
        **os.environ,
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__EXECUTOR": "KubernetesExecutor",
        "AIRFLOW__KUBERNETES_EXECUTOR__POD_TEMPLATE_FILE": str(pod_template),
        "AIRFLOW__KUBERNETES_EXECUTOR__NAMESPACE": NAMESPACE,
    }
    command = [
        *airflow_command(), "kubernetes", "generate-dag-yaml", "order_workflow",
        "--logical-date", "2026-01-01T00:00:00+00:00", "--output-path", str(out),
    ]  # fmt: skip
    done = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    pods = {}
    for path in sorted((out / "airflow_yaml_output").glob("*.yml")):
        pod = yaml.safe_load(path.read_text())
        pods[pod["metadata"]["annotations"]["task_id"]] = pod
    return pods


def test_one_pod_per_task_of_order_workflow(task_pods):
    assert set(task_pods) == TASKS
    for task_id, pod in task_pods.items():
        assert pod["kind"] == "Pod" and pod["metadata"]["namespace"] == NAMESPACE
        (container,) = pod["spec"]["containers"]
        assert "airflow.sdk.execution_time.execute_workload" in container["args"]
        assert f'"task_id":"{task_id}"' in container["args"][-1]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_task_pods_validate_strictly(task_pods, tmp_path, version):
    manifest = tmp_path / "pods.yaml"
    manifest.write_text(yaml.safe_dump_all(list(task_pods.values())))
    result = subprocess.run(
        [str(VALIDATE), "--strict", "--quiet", "-k", version, str(manifest)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout and "WARN" not in result.stdout, result.stdout


def test_task_pods_run_the_projects_image_as_the_worker_service_account(task_pods, values):
    image = values["images"]["pod_template"]
    assert image["repository"] == values["images"]["airflow"]["repository"]
    binding = one(render_chart(), "RoleBinding", "orders-routing-reader")
    for pod in task_pods.values():
        (container,) = pod["spec"]["containers"]
        assert container["image"] == f"{image['repository']}:{image['tag']}"
        account = pod["spec"]["serviceAccountName"]
        assert account == values["workers"]["kubernetes"]["serviceAccount"]["name"]
        assert binding["subjects"][0]["name"] == account


def test_task_pods_get_the_dags_settings_and_the_node_token_from_its_secret(task_pods, values):
    (secret,) = render_chart(show_only=["templates/token-secret.yaml"])
    wanted = {item["name"]: item["value"] for item in values["env"]}
    assert {"ORDER_REGIONS", "ORDER_PROCESS_RETRIES", "ORDER_RETRY_DELAY_SECONDS"} <= set(wanted)
    for pod in task_pods.values():
        env = env_of(pod["spec"]["containers"][0])
        assert {k: v for k, v in env.items() if k.startswith("ORDER_")} == wanted
        assert env["NODE_API_TOKEN"] == {
            "secretKeyRef": {"name": secret["metadata"]["name"], "key": "token"}
        }
        # least privilege: Airflow 3 task pods use the execution API, not the database
        forbidden = {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
            "AIRFLOW_CONN_AIRFLOW_DB",
            "AIRFLOW__CORE__FERNET_KEY",
            "AIRFLOW__API__SECRET_KEY",
            "AIRFLOW__API_AUTH__JWT_SECRET",
        }
        assert not forbidden & set(env)


def test_task_pods_have_resources_and_the_restricted_security_context(task_pods, values):
    for pod in task_pods.values():
        spec = pod["spec"]
        (container,) = spec["containers"]
        assert container["resources"] == values["workers"]["resources"]
        assert container["resources"]["requests"]["memory"] and container["resources"]["limits"]
        pod_context, context = spec["securityContext"], container["securityContext"]
        assert pod_context["runAsNonRoot"] is True and pod_context["runAsUser"] != 0
        assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert spec["restartPolicy"] == "Never"
        # the labels charts/orders' NetworkPolicy admits to the warehouses
        worker = {"tier": "airflow", "component": "worker", "release": AIRFLOW_RELEASE}
        assert worker.items() <= pod["metadata"]["labels"].items()
        # on the system node with the rest of Airflow (kind-config.yaml)
        assert spec["nodeSelector"] == values["nodeSelector"]
        assert spec["tolerations"] == values["tolerations"]
        # airflow.cfg (execution_api_server_url) from the chart's ConfigMap of this release
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert mounts["/opt/airflow/airflow.cfg"]["subPath"] == "airflow.cfg"
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["config"]["configMap"]["name"] == f"{AIRFLOW_RELEASE}-config"
