"""The kind/minikube scripts and the kind cluster config."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import pytest
import yaml

from order_contracts.labels import REGION_LABEL

from .helpers import ROOT, render_chart

SCRIPTS = sorted((ROOT / "scripts").glob("*.sh"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_parses(script):
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_scripts_pass_shellcheck():
    result = subprocess.run(
        ["shellcheck", "--external-sources", *map(str, SCRIPTS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_kind_cluster_has_a_control_plane_and_a_worker_per_default_region():
    config = yaml.safe_load((ROOT / "kind-config.yaml").read_text())
    assert config["kind"] == "Cluster" and config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    roles = [node["role"] for node in config["nodes"]]
    assert roles.count("control-plane") == 1
    worker_regions = sorted(
        node["labels"][REGION_LABEL]
        for node in config["nodes"]
        if node["role"] == "worker" and REGION_LABEL in node.get("labels", {})
    )
    chart_regions = sorted(
        sts["spec"]["template"]["metadata"]["labels"][REGION_LABEL]
        for sts in render_chart(show_only=["templates/warehouse-statefulset.yaml"])
    )
    assert worker_regions == chart_regions


def test_kind_script_pins_regions_to_their_workers_and_loads_both_images():
    text = (ROOT / "scripts" / "kind-up.sh").read_text()
    assert "install_orders --set regionNodeSelector=true" in text
    assert 'kind load docker-image --name "$CLUSTER" "$WAREHOUSE_IMAGE" "$AIRFLOW_IMAGE"' in text
    assert '--config "$root/kind-config.yaml"' in text


def test_makefile_has_kind_targets():
    result = subprocess.run(["make", "-n", "kind-down"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "kind delete cluster --name regional-orders" in result.stdout
    result = subprocess.run(
        ["make", "-n", "kind-smoke", "SMOKE_ARGS=--keep"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "bash scripts/kind-smoke.sh --keep" in result.stdout


SMOKE = ROOT / "scripts" / "kind-smoke.sh"


def _smoke(*args: str) -> subprocess.CompletedProcess[str]:
    # argument parsing comes before `need docker kind ...`: this runs without either
    return subprocess.run(["bash", str(SMOKE), *args], capture_output=True, text=True, timeout=30)


def test_kind_smoke_help_exits_zero_and_names_its_flags():
    result = _smoke("--help")
    assert result.returncode == 0, result.stderr
    for flag in ("--keep", "--replication", "--region", "--orders", "--values"):
        assert flag in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], "unknown argument: --bogus"),
        (["--orders", "many"], "--orders must be a positive integer"),
        (["--orders", "0"], "--orders must be a positive integer"),
        (["--region"], "--region needs a value"),
        (["--region", "hn;rm"], "--region must be a region name"),
    ],
)
def test_kind_smoke_refuses_bad_arguments_in_one_line(args, message):
    result = _smoke(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr


def test_kind_smoke_reuses_kind_up_and_the_revisioned_stress_job():
    text = SMOKE.read_text()
    assert 'bash "$root/scripts/kind-up.sh"' in text  # the cluster logic lives once
    assert "install_orders --reuse-values" in text  # k8s-common.sh's install, not a second one
    assert '-l "$STRESS_SELECTOR"' in text  # the Job is found by label: its name has the revision
    assert "trap teardown EXIT" in text


SYSTEM_LABEL = "orders.routing.io/system"


def _system_node() -> dict:
    config = yaml.safe_load((ROOT / "kind-config.yaml").read_text())
    (node,) = [n for n in config["nodes"] if SYSTEM_LABEL in n.get("labels", {})]
    return node


def _taints(node: dict) -> list[dict]:
    (patch,) = [yaml.safe_load(p) for p in node["kubeadmConfigPatches"]]
    assert patch["kind"] == "JoinConfiguration"
    return patch["nodeRegistration"]["taints"]


def test_kind_has_a_tainted_system_node_after_the_region_workers():
    config = yaml.safe_load((ROOT / "kind-config.yaml").read_text())
    node = _system_node()
    assert node["role"] == "worker" and REGION_LABEL not in node["labels"]
    # last: kind names workers in order, so worker..worker3 stay HCM, HN, DN (docker stop ...)
    assert config["nodes"][-1] == node
    assert _taints(node) == [{"key": SYSTEM_LABEL, "value": "true", "effect": "NoSchedule"}]


def test_airflow_and_its_postgresql_are_pinned_to_the_system_node_and_tolerate_it():
    values = yaml.safe_load((ROOT / "charts" / "airflow-values.yaml").read_text())
    node = _system_node()
    (taint,) = _taints(node)
    toleration = {**taint, "operator": "Equal"}
    for placement in (values, values["postgresql"]["primary"]):
        assert placement["nodeSelector"] == {SYSTEM_LABEL: node["labels"][SYSTEM_LABEL]}
        assert placement["tolerations"] == [toleration]
    # the warehouses neither select nor tolerate it: the taint keeps them off
    for sts in render_chart(
        values={"regionNodeSelector": True}, show_only=["templates/warehouse-statefulset.yaml"]
    ):
        spec = sts["spec"]["template"]["spec"]
        assert SYSTEM_LABEL not in spec["nodeSelector"]
        assert all(t.get("key") != SYSTEM_LABEL for t in spec.get("tolerations", []))


def test_minikube_labels_its_single_node_as_the_system_node():
    assert (
        "SYSTEM_NODE_LABEL=orders.routing.io/system"
        in (ROOT / "scripts" / "k8s-common.sh").read_text()
    )
    text = (ROOT / "scripts" / "minikube-up.sh").read_text()
    assert 'kubectl label node --all --overwrite "$SYSTEM_NODE_LABEL=true"' in text


def _verify_paragraph(log: str) -> str:
    """The script's own extraction (its sed line, run by bash) applied to a Job log."""
    (line,) = [ln for ln in SMOKE.read_text().splitlines() if ln.startswith("verify_block=")]
    result = subprocess.run(
        ["bash", "-c", f'log=$(cat); {line}; printf "%s" "$verify_block"'],
        input=log,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


@pytest.mark.parametrize("ok", [True, False])
def test_kind_smoke_reads_the_real_stress_verify_report(ok):
    # the stress tool's real printer, as in a Job's log (not a terminal: wrapped at 80 columns)
    from rich.console import Console

    from stress.report import print_verification

    out = io.StringIO()
    console = Console(file=out, width=80)
    console.print("sent: 1000 orders")
    print_verification(
        {
            "ok": ok,
            "acknowledged": 1000,
            "found_exactly_once": 1000 if ok else 998,
            "lost": 0 if ok else 2,
            "duplicated": 0,
            "refused_but_stored": 0,
            "stored_per_node": {"HCM": 333, "HN": 334, "DN": 333},
            "unreadable_nodes": {},
            "samples": {
                "lost": [] if ok else ["r-1", "r-2"],
                "duplicated": [],
                "refused_but_stored": [],
            },
        },
        console,
    )
    console.print("result: PASSED" if ok else "result: FAILED")
    console.print('{"verify": {"ok": true}}')
    paragraph = _verify_paragraph(out.getvalue())
    assert paragraph.startswith("verify: ok" if ok else "verify: FAILED")
    # the whole wrapped paragraph, samples included, up to the verdict
    assert "stored per node: HCM=333" in paragraph and ("lost: r-1" in paragraph) is not ok
    assert paragraph.rstrip().endswith("result: PASSED" if ok else "result: FAILED")
    # the script's pass test: [[ $verify_block == "verify: ok"* ]]
    assert 'verify_block != "verify: ok"*' in SMOKE.read_text()


CHAOS = ROOT / "scripts" / "kind-chaos.sh"


def _kind_chaos(*args: str) -> subprocess.CompletedProcess[str]:
    # argument parsing and --print-values come before `need kind helm kubectl`
    return subprocess.run(["bash", str(CHAOS), *args], capture_output=True, text=True, timeout=30)


def test_kind_chaos_help_exits_zero_and_names_its_flags():
    result = _kind_chaos("--help")
    assert result.returncode == 0, result.stderr
    for flag in ("--region", "--experiments", "--duration", "--rate", "--settle", "--print-values"):
        assert flag in result.stdout
    assert "CHAOS_MESH_VERSION" in result.stdout and result.stderr == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], "unknown argument: --bogus"),
        (["--region", "hn;rm"], "--region must be a region name"),
        (["--experiments", "pod-kill,explode"], "unknown experiment 'explode'"),
        (["--experiments", ""], "--experiments is empty"),
        (["--rate", "0"], "--rate must be a positive integer"),
        (["--duration", "2m"], "--duration must be a positive integer"),
        (["--duration", "60", "--settle", "60"], "--settle (60) must be shorter than --duration"),
        (["--settle"], "--settle needs a value"),
    ],
)
def test_kind_chaos_refuses_bad_arguments_in_one_line(args, message):
    result = _kind_chaos(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr


def test_kind_chaos_values_render_valid_chaos_mesh_schedules_and_the_stress_job():
    from . import chaos_mesh

    result = _kind_chaos(
        "--print-values", "--region", "hcm", "--experiments", "partition,delay", "--rate", "25"
    )
    assert result.returncode == 0, result.stderr
    values = yaml.safe_load(result.stdout)
    # on top of what kind-up installs (the script upgrades with --reuse-values)
    docs = render_chart(
        values={"regionNodeSelector": True, **values}, api_versions=[chaos_mesh.API_VERSION]
    )
    chaos = [d for d in docs if d["apiVersion"] == chaos_mesh.API_VERSION]
    # only the asked experiments, each a Schedule, and the partition from the stress Job only
    assert sorted((d["kind"], d["metadata"]["name"]) for d in chaos) == [
        ("Schedule", "orders-delay-hcm"),
        ("Schedule", "orders-partition-hcm-stress"),
    ]
    for doc in chaos:
        assert chaos_mesh.errors(doc) == []
        assert doc["spec"]["concurrencyPolicy"] == "Forbid"
        every = doc["spec"]["schedule"].removeprefix("@every ")
        # a fault is over before the next run of the same experiment is due
        assert int(every.removesuffix("s")) > int(doc["spec"]["networkChaos"]["duration"][:-1])
    (job,) = [d for d in docs if d["kind"] == "Job"]
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:4] == ["--target", "nodes", "--orders", str(25 * 240)]
    assert "--verify" in args and args[-4:] == ["--rate", "25/s", "--duration", "240s"]


def test_kind_chaos_installs_chaos_mesh_for_kind_and_always_cleans_up():
    text = CHAOS.read_text()
    assert "CHAOS_MESH_REPO=${CHAOS_MESH_REPO:-https://charts.chaos-mesh.org}" in text
    assert 'helm repo add chaos-mesh "$CHAOS_MESH_REPO"' in text
    # kind's nodes run containerd
    assert "--set chaosDaemon.runtime=containerd" in text
    assert "--set chaosDaemon.socketPath=/run/containerd/containerd.sock" in text
    # faults only ever go into the kind cluster, through k8s-common.sh's one install
    assert '[[ $context == "kind-$CLUSTER" ]]' in text
    assert 'install_orders --reuse-values -f "$values_file"' in text
    # removed whatever happens, and the release put back
    assert "trap cleanup EXIT" in text and "trap 'exit 130' INT TERM" in text
    assert (
        "install_orders --reuse-values --set chaos.enabled=false --set stress.enabled=false" in text
    )
    assert "--cascade=foreground" in text
    # the same reading of the Job's verdict as kind-smoke.sh
    assert 'verify_block != "verify: ok"*' in text


def test_makefile_has_a_kind_chaos_target():
    result = subprocess.run(
        ["make", "-n", "kind-chaos", "CHAOS_ARGS=--region hcm"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "bash scripts/kind-chaos.sh --region hcm" in result.stdout


def test_kind_up_turns_tls_on_only_when_asked_with_values_the_chart_accepts():
    text = (ROOT / "scripts" / "kind-up.sh").read_text()
    common = (ROOT / "scripts" / "k8s-common.sh").read_text()
    (args,) = re.findall(r"^  tls_args=\((.*)\)$", text, re.M)
    assert 'if [ "${ORDERS_TLS:-0}" = 1 ]; then\n  install_cert_manager' in text
    # cert-manager's manifest is applied by the user's kubectl from a URL; nothing is vendored
    assert re.search(r"CERT_MANAGER_MANIFEST:-https://github\.com/cert-manager/", common)
    assert 'kubectl apply -f "$CERT_MANAGER_MANIFEST"' in common
    # Airflow's task pods get the CA with the overlay, only then (it makes the DAG refuse http)
    assert 'AIRFLOW_OVERLAY="$root/charts/airflow-values-tls.yaml"' in text
    assert '${AIRFLOW_OVERLAY:+-f "$AIRFLOW_OVERLAY"}' in common
    assert (ROOT / "charts" / "airflow-values-tls.yaml").is_file()
    sets = dict(item.split("=", 1) for item in args.split() if item != "--set")
    values: dict = {}
    for key, value in sets.items():
        node = values
        *path, last = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value == "true"
    docs = render_chart(values=values)
    assert {d["kind"] for d in docs if d["apiVersion"] == "cert-manager.io/v1"} == {
        "Certificate",
        "Issuer",
    }
