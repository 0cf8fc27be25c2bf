"""NOTES.txt: the next commands, with this release's real object names."""

from __future__ import annotations

from .helpers import CHART, NAMESPACE, run_helm


def _notes(*extra: str) -> str:
    result = run_helm(
        ["install", "orders", str(CHART), "-n", NAMESPACE, "--dry-run=client", *extra]
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split("NOTES:", 1)[1]


def test_notes_name_the_commands_for_the_rendered_objects():
    notes = _notes()
    assert "helm test orders -n orders" in notes
    assert "port-forward svc/orders-warehouse-hcm 8000:8000" in notes
    assert "get secret orders-node-token" in notes
    assert "get configmap warehouse-routing" in notes
    assert "port-forward svc/airflow-api-server 8080:8080" in notes
    # the stress Job is named per revision: found by its labels
    assert (
        "wait --for=condition=complete --timeout=30m job"
        " -l app.kubernetes.io/instance=orders,app.kubernetes.io/component=stress"
    ) in notes
    assert "job/orders-stress" not in notes  # stress is off: no Job of this revision
    assert "any pod in the cluster can reach" not in notes


def test_notes_follow_the_first_region_and_warn_without_network_policies():
    notes = _notes("--set", "regions[0].name=SGN", "--set", "networkPolicy.enabled=false")
    assert "port-forward svc/orders-warehouse-sgn 8000:8000" in notes
    assert "any pod in the cluster can reach the warehouses" in notes


def test_notes_name_this_revisions_stress_job_when_it_runs():
    assert "job/orders-stress-1 " in _notes("--set", "stress.enabled=true")


def test_notes_query_the_node_over_https_with_the_ca_when_tls_is_on():
    notes = _notes("--set", "tls.enabled=true", "--set", "tls.certManager.enabled=true")
    assert "get secret orders-ca -o jsonpath='{.data.ca\\.crt}'" in notes
    assert (
        "curl -s --cacert orders-ca.crt --resolve orders-warehouse-hcm:8000:127.0.0.1"
        " https://orders-warehouse-hcm:8000/health"
    ) in notes
    assert "curl -s localhost:8000/health" not in notes


def test_notes_say_the_controller_needs_a_restart_after_its_certificate_is_renewed():
    notes = _notes("--set", "tls.enabled=true", "--set", "tls.certManager.enabled=true")
    assert "serves /metrics over HTTPS from secret/orders-controller-tls" in notes
    assert "kubectl -n orders rollout restart deployment/orders-controller" in notes
    assert "rollout restart" not in _notes()
