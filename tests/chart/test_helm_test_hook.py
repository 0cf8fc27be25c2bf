"""`helm test`: a hook pod that checks every region's /health — and its script, run for real
against real warehouse-node processes."""

from __future__ import annotations

import subprocess
import sys

from order_contracts.labels import WAREHOUSE_PORT

from .helpers import CHART, render_chart

SCRIPT = CHART / "files" / "check_health.py"


def test_hook_pod_checks_every_regions_service():
    (pod,) = render_chart(
        values={"regions": [{"name": "HCM"}, {"name": "SGN"}]},
        show_only=["templates/tests/test-health.yaml"],
    )
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "test"
    command = pod["spec"]["containers"][0]["command"]
    assert command[:3] == ["python", "-c", SCRIPT.read_text()]
    assert command[4:] == [
        f"http://orders-warehouse-hcm:{WAREHOUSE_PORT}/health",
        f"http://orders-warehouse-sgn:{WAREHOUSE_PORT}/health",
    ]
    assert pod["spec"]["restartPolicy"] == "Never"


def _check(*urls: str) -> subprocess.CompletedProcess[str]:
    """Run the hook's script exactly as the pod does: python -c SCRIPT TIMEOUT URL..."""
    return subprocess.run(
        [sys.executable, "-c", SCRIPT.read_text(), "5", *urls],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_script_passes_when_every_node_answers(three_nodes):
    result = _check(*(f"{node.url}/health" for node in three_nodes.values()))
    assert result.returncode == 0, result.stderr
    assert "all 3 services answer /health" in result.stdout
    assert "HCM" in result.stdout and "ok" in result.stdout


def test_script_fails_naming_the_node_that_does_not_answer(three_nodes):
    stopped = three_nodes["HN"]
    stopped.process.stop(grace=10.0)
    result = _check(*(f"{node.url}/health" for node in three_nodes.values()))
    assert result.returncode == 1
    assert f"{stopped.url}/health" in result.stderr
    assert f"{three_nodes['HCM'].url}/health" not in result.stderr
