"""Schemathesis against a real node with a token: 0 server errors, 0 schema violations.

Every phase runs (the spec's examples, boundary coverage, fuzzing, stateful links) with every
check but ``positive_data_acceptance``: the order model has rules a JSON schema cannot state
(``total`` must equal the items' sum), so some schema-valid orders are rightly refused with 422.
``negative_data_rejection`` stays on: whatever the schema forbids, the node must refuse.
``SCHEMATHESIS_SEED`` replays another seed (the default makes the run reproducible).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import NodeFactory

TOKEN = "fuzz-token"


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    node = node_factory("HCM", env={"NODE_API_TOKEN": TOKEN})
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert cli, "schemathesis is a dev dependency: make bootstrap"
    argv = [
        cli,
        "run",
        f"{node.url}/openapi.json",
        "--header",
        f"Authorization: Bearer {TOKEN}",
        "--exclude-checks",
        "positive_data_acceptance",
        "--max-examples",
        os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10"),
        "--seed",
        os.environ.get("SCHEMATHESIS_SEED", "20261203"),
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path / "report"),
    ]
    run = subprocess.run(
        argv, capture_output=True, text=True, timeout=500, cwd=tmp_path, check=False
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "No issues found" in run.stdout or " passed" in run.stdout, run.stdout[-3000:]
    assert "unhandled error" not in node.log_path.read_text()
