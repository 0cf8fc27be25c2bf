"""charts/airflow-values.yaml (official Airflow chart) fits this chart and this repository."""

from __future__ import annotations

import re

import pytest
import yaml

from .helpers import ROOT, env_of, one, render_chart

VALUES = ROOT / "charts" / "airflow-values.yaml"
AIRFLOW_DOCKERFILE = ROOT / "images" / "airflow" / "Dockerfile"
KIND_SCRIPT = ROOT / "scripts" / "k8s-common.sh"


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def test_runs_tasks_with_the_kubernetes_executor(values):
    assert values["executor"] == "KubernetesExecutor"


def test_names_the_dag_folder_the_image_copies_dags_into(values):
    folder = values["config"]["core"]["dags_folder"]
    assert folder == "/opt/airflow/dags"
    copies = re.findall(
        r"^COPY\s+(?:--\S+\s+)*(\S+)\s+(\S+)$", AIRFLOW_DOCKERFILE.read_text(), re.M
    )
    assert copies == [("dags/", folder + "/")]
    assert values["dags"]["gitSync"]["enabled"] is False
    assert values["dags"]["persistence"]["enabled"] is False
    assert values["config"]["core"]["load_examples"] == "False"


def test_airflow_image_is_the_one_the_scripts_build(values):
    dockerfile = AIRFLOW_DOCKERFILE.read_text()
    assert re.search(
        r"^ARG AIRFLOW_IMAGE=apache/airflow:" + re.escape(values["airflowVersion"]) + "$",
        dockerfile,
        re.M,
    )
    image = values["images"]["airflow"]
    app_version = yaml.safe_load((ROOT / "charts" / "orders" / "Chart.yaml").read_text())[
        "appVersion"
    ]
    assert (image["repository"], image["tag"]) == ("regional-orders/airflow", app_version)
    assert (
        "AIRFLOW_IMAGE=${AIRFLOW_IMAGE:-regional-orders/airflow:$APP_VERSION}"
        in KIND_SCRIPT.read_text()
    )


def test_node_token_comes_from_the_orders_charts_secret(values):
    (secret,) = render_chart(show_only=["templates/token-secret.yaml"])
    assert {
        "envName": "NODE_API_TOKEN",
        "secretName": secret["metadata"]["name"],
        "secretKey": "token",
    } in values["secret"]
    sts = render_chart(show_only=["templates/warehouse-statefulset.yaml"])[0]
    assert env_of(sts["spec"]["template"]["spec"]["containers"][0])["NODE_API_TOKEN"][
        "secretKeyRef"
    ] == {
        "name": secret["metadata"]["name"],
        "key": "token",
    }


def test_worker_service_account_is_the_one_granted_the_routing_configmap(values):
    account = values["workers"]["serviceAccount"]
    assert account["create"] is True
    binding = one(render_chart(), "RoleBinding", "orders-routing-reader")
    assert binding["subjects"][0]["name"] == account["name"]


def test_dag_settings_are_passed_as_environment(values, monkeypatch):
    # Airflow puts the DAG folder on sys.path; so does this test, to use the DAG's own reader
    monkeypatch.syspath_prepend(str(ROOT / "dags"))
    from order_workflow_lib.settings import WorkflowSettings

    env = {item["name"]: item["value"] for item in values["env"]}
    settings = WorkflowSettings.from_env(env)  # the DAG's own reader
    assert (settings.process_retries, settings.retry_delay_seconds) == (3, 60.0)
    assert "ORDER_ROUTING_SOURCE" not in env  # in a pod: its own namespace's ConfigMap
    (sts, *_) = render_chart(show_only=["templates/warehouse-statefulset.yaml"])
    assert (
        env["ORDER_REGIONS"]
        == env_of(sts["spec"]["template"]["spec"]["containers"][0])["ORDER_REGIONS"]
    )


def test_jobs_are_not_helm_hooks_so_that_wait_works(values):
    assert values["migrateDatabaseJob"]["useHelmHooks"] is False
    assert values["createUserJob"]["useHelmHooks"] is False


SHIPPED_TUNING = (
    "API__WORKERS",
    "CORE__PARALLELISM",
    "CORE__MAX_ACTIVE_RUNS_PER_DAG",
    "CORE__MAX_ACTIVE_TASKS_PER_DAG",
    "CORE__DEFAULT_POOL_TASK_SLOT_COUNT",
    "SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME",
    "SCHEDULER__MAX_TIS_PER_QUERY",
    "SCHEDULER__MAX_DAGRUNS_PER_LOOP_TO_SCHEDULE",
)


@pytest.mark.parametrize("key", SHIPPED_TUNING)
def test_should_ship_the_local_modes_tuned_airflow_settings(values, key):
    from localmode.airflow import AirflowSettings

    section, option = key.lower().split("__")
    tuned = AirflowSettings().airflow_env()[f"AIRFLOW__{key}"]
    assert float(values["config"][section][option]) == float(tuned)


def test_should_cap_the_dags_active_runs_like_the_local_mode(values):
    from localmode.airflow import AirflowSettings

    env = {item["name"]: item["value"] for item in values["env"]}
    assert env["ORDER_MAX_ACTIVE_RUNS"] == AirflowSettings().airflow_env()["ORDER_MAX_ACTIVE_RUNS"]
