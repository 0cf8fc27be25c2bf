"""The stress Job: absent by default; when enabled, `orders-stress` with the values' flags."""

from __future__ import annotations

from .helpers import by_kind, env_of, one, render_chart


def test_should_not_run_a_load_test_by_default():
    assert by_kind(render_chart(), "Job") == []


def test_should_run_orders_stress_through_airflow_with_the_values_flags():
    docs = render_chart(
        values={
            "stress": {
                "enabled": True,
                "orders": 500,
                "concurrency": 20,
                "batchSize": 10,
                "airflowCredentialsSecret": "airflow-login",
                "extraArgs": ["--seed", "7"],
            }
        }
    )
    job = one(docs, "Job", "orders-stress-1")
    assert job["spec"]["backoffLimit"] == 0
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    container = spec["containers"][0]
    assert container["command"] == ["orders-stress"]
    assert container["args"] == [
        "--target", "airflow",
        "--orders", "500",
        "--concurrency", "20",
        "--endpoint", "http://airflow-api-server:8080",
        "--batch-size", "10",
        "--min-success", "0.99",
        "--verify",
        "--no-progress",
        "--report", "-",
        "--seed", "7",
    ]  # fmt: skip
    env = env_of(container)
    assert env["AIRFLOW_USERNAME"] == {"secretKeyRef": {"name": "airflow-login", "key": "username"}}
    assert env["AIRFLOW_PASSWORD"] == {"secretKeyRef": {"name": "airflow-login", "key": "password"}}
    assert env["NODE_API_TOKEN"]["secretKeyRef"]["name"] == "orders-node-token"


def test_should_send_straight_to_the_nodes_without_airflow_flags():
    job = one(
        render_chart(values={"stress": {"enabled": True, "target": "nodes", "verify": False}}),
        "Job",
        "orders-stress-1",
    )
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:2] == ["--target", "nodes"]
    assert "--batch-size" not in args and "--endpoint" not in args and "--verify" not in args
    assert "AIRFLOW_USERNAME" not in env_of(job["spec"]["template"]["spec"]["containers"][0])


def test_flags_the_job_passes_exist_in_the_cli():
    from typer.main import get_command

    from stress.cli import app

    params = get_command(app).params
    known = {opt for param in params for opt in [*param.opts, *param.secondary_opts]}
    envvars = {param.name: param.envvar for param in params}
    assert envvars["airflow_user"] == "AIRFLOW_USERNAME"
    assert envvars["airflow_password"] == "AIRFLOW_PASSWORD"
    assert envvars["node_token"] == "NODE_API_TOKEN"
    job = one(
        render_chart(values={"stress": {"enabled": True, "airflowCredentialsSecret": "x"}}),
        "Job",
        "orders-stress-1",
    )
    flags = {
        arg
        for arg in job["spec"]["template"]["spec"]["containers"][0]["args"]
        if arg.startswith("--")
    }
    assert flags <= known, flags - known


def test_the_hand_applied_job_in_stress_is_admitted_like_the_charts():
    """stress/job.yaml (the stress tool's own manifest) must reach the nodes through the chart's
    NetworkPolicy and use the chart's Secret, or `kubectl apply` of it would silently fail."""
    import yaml

    from .helpers import ROOT

    manual = [d for d in yaml.safe_load_all((ROOT / "stress" / "job.yaml").read_text()) if d]
    (job,) = [d for d in manual if d["kind"] == "Job"]
    pod_labels = job["spec"]["template"]["metadata"]["labels"]
    policy = one(render_chart(), "NetworkPolicy", "orders-warehouse")
    own_peer = policy["spec"]["ingress"][0]["from"][0]["podSelector"]
    assert own_peer["matchLabels"].items() <= pod_labels.items()
    (expression,) = own_peer["matchExpressions"]
    assert pod_labels[expression["key"]] in expression["values"]
    env = env_of(job["spec"]["template"]["spec"]["containers"][0])
    secret = one(render_chart(), "Secret", "orders-node-token")
    assert env["NODE_API_TOKEN"]["secretKeyRef"] == {
        "name": secret["metadata"]["name"],
        "key": "token",
    }


def test_job_is_named_per_revision_so_every_upgrade_can_run_it_again():
    """A Job's template is immutable and a finished Job never runs again: a fixed name would make
    `helm upgrade` fail (changed values) or do nothing (same values). ``helm template`` renders
    revision 1; Helm deletes the previous revision's Job, which is no longer in the manifest."""
    job = one(render_chart(values={"stress": {"enabled": True}}), "Job", "orders-stress-1")
    assert "helm.sh/hook" not in job["metadata"].get("annotations", {})  # `--wait` is not held
    # the ServiceAccount keeps its name: the routing reader RoleBinding names it
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "orders-stress"
