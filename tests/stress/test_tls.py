"""The stress tool against an HTTPS node: ORDER_CA_BUNDLE is what makes it trust the node."""

from __future__ import annotations

from pathlib import Path

import httpx

from order_contracts import envvars, tls
from tests.conftest import RunningNode
from tests.stress.conftest import run_cli, write_document
from tests.support.certs import TlsFiles


def stored_ids(node: RunningNode, tls_files: TlsFiles, prefix: str) -> list[str]:
    """The run's order ids on the node, read with a plain httpx client trusting the test CA."""
    verify = tls.httpx_verify({envvars.ORDER_CA_BUNDLE: str(tls_files.ca_bundle)})
    with httpx.Client(base_url=node.url, verify=verify, timeout=10) as http:
        page = http.get("/orders", params={"limit": 1000}).raise_for_status().json()
    return [o["order_id"] for o in page["orders"] if o["order_id"].startswith(prefix)]


def test_the_stress_tool_commits_and_verifies_over_https_only_with_the_bundle(
    tls_node: RunningNode, tls_files: TlsFiles, tmp_path: Path
) -> None:
    routing = write_document({"HCM": tls_node.url}, tmp_path / "routing.json")
    args = ("--target", "nodes", "--routing", str(routing), "--regions", "HCM=1", "--orders")
    trusted = run_cli(
        *(*args, "40", "--run-id", "tls-ok", "--verify"),
        report=tmp_path / "ok.json",
        env={envvars.ORDER_CA_BUNDLE: str(tls_files.ca_bundle)},
    )
    assert trusted.code == 0, trusted.stderr + trusted.stdout
    assert trusted.report is not None
    assert trusted.report["totals"]["committed"] == 40
    # The tool's own read-back (GET /orders over HTTPS) found every acknowledged order once.
    assert trusted.report["verify"]["found_exactly_once"] == 40
    assert len(stored_ids(tls_node, tls_files, "tls-ok")) == 40

    untrusted = run_cli(*args, "5", "--run-id", "tls-no", report=tmp_path / "no.json")
    assert untrusted.code == 1, untrusted.stderr + untrusted.stdout
    assert untrusted.report is not None
    assert untrusted.report["totals"]["committed"] == 0
    # Its health probe cannot verify the node, so the region counts as unreachable, and the
    # report says why: the certificate, not the network.
    assert any("HCM unreachable" in e for e in untrusted.report["errors"])
    assert any(
        "HCM: its TLS certificate was refused (unable to get local issuer certificate)" in e
        and "ORDER_CA_BUNDLE" in e
        for e in untrusted.report["errors"]
    ), untrusted.report["errors"]
    assert stored_ids(tls_node, tls_files, "tls-no") == []
