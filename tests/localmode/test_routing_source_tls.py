"""The local routing source over HTTPS, and clients that refuse plain-HTTP node URLs.

Real ``orders-routing-source`` processes, a real HTTPS node, real ``orders-stress`` runs. What
can fail: the source serving plain HTTP (or nothing) with a pair given, a client reading it
without the CA, a client that never connects blocking the accept loop, a bad pair started
anyway, and a client sending the node token to an ``http://`` URL although TLS is configured.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from localmode.processes import ManagedProcess, console_script, free_port, wait_until
from order_contracts import envvars
from order_contracts.envvars import ConfigError
from order_contracts.source import RoutingSourceError, load_routing_document
from order_contracts.tls import refuse_plain_http, tls_required
from tests.conftest import RunningNode
from tests.stress.conftest import run_cli, stored_orders, write_document
from tests.support.certs import TlsFiles


def https_routing_source(
    node: RunningNode, tls_files: TlsFiles, tmp_path: Path
) -> tuple[ManagedProcess, str]:
    port = free_port()
    argv = [*console_script("orders-routing-source", "localmode.routing_source")]
    argv += ["--out", str(tmp_path / "routing.json"), "--port", str(port), "--interval", "0.2"]
    argv += ["--node", f"HCM={node.url}"]
    argv += ["--tls-cert", str(tls_files.cert), "--tls-key", str(tls_files.key)]
    url = f"https://127.0.0.1:{port}/routing.json"
    env = {envvars.ORDER_CA_BUNDLE: str(tls_files.ca_bundle)}
    return ManagedProcess("routing-source", argv, tmp_path / "rs.log", env=env, ready_url=url), url


def test_the_routing_source_serves_https_only_and_a_silent_client_blocks_nobody(
    tls_node: RunningNode, tls_files: TlsFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    process, url = https_routing_source(tls_node, tls_files, tmp_path)
    process.start(ready_timeout=30)
    try:
        monkeypatch.setenv(envvars.ORDER_CA_BUNDLE, str(tls_files.ca_bundle))
        wait_until(lambda: load_routing_document(url).regions["HCM"].ready, timeout=15)
        assert load_routing_document(url).regions["HCM"].url.startswith("https://")

        # A client that connects and never says anything holds its own thread only.
        port = int(url.split(":")[2].split("/")[0])
        with socket.create_connection(("127.0.0.1", port)):
            assert load_routing_document(url, timeout=3).regions["HCM"].ready

        with pytest.raises(httpx.TransportError):
            httpx.get(url.replace("https://", "http://"), timeout=3)

        monkeypatch.delenv(envvars.ORDER_CA_BUNDLE)
        with pytest.raises(RoutingSourceError, match="CERTIFICATE_VERIFY_FAILED"):
            load_routing_document(url)
    finally:
        process.stop()


def test_a_bad_pair_stops_the_routing_source_with_one_line(tmp_path: Path) -> None:
    argv = [*console_script("orders-routing-source", "localmode.routing_source")]
    argv += ["--node", "HCM=http://127.0.0.1:1", "--out", str(tmp_path / "r.json")]
    done = subprocess.run(
        [*argv, "--tls-cert", str(tmp_path / "missing.crt"), "--tls-key", str(tmp_path / "k")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert "TLS file not found" in lines[-1] and "Traceback" not in done.stderr


def test_tls_required_follows_the_bundle_unless_told_otherwise() -> None:
    assert not tls_required({})
    assert tls_required({envvars.ORDER_CA_BUNDLE: "/ca.pem"})
    assert not tls_required(
        {envvars.ORDER_CA_BUNDLE: "/ca.pem", envvars.ORDER_REQUIRE_TLS: "false"}
    )
    assert tls_required({envvars.ORDER_REQUIRE_TLS: "true"})
    with pytest.raises(ConfigError, match=envvars.ORDER_REQUIRE_TLS):
        tls_required({envvars.ORDER_REQUIRE_TLS: "sometimes"})
    refuse_plain_http(["https://a:1", "http://b:2"], {})  # TLS not required: allowed
    with pytest.raises(ConfigError, match="http://b:2 is plain HTTP"):
        refuse_plain_http(["https://a:1", "http://b:2"], {envvars.ORDER_REQUIRE_TLS: "true"})


def test_readers_refuse_a_routing_document_with_plain_http_urls_when_tls_is_configured(
    tls_files: TlsFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    routing = write_document(
        {"HCM": "https://127.0.0.1:1", "HN": "http://127.0.0.1:2"}, tmp_path / "r.json"
    )
    assert load_routing_document(str(routing)).regions["HN"].url == "http://127.0.0.1:2"
    monkeypatch.setenv(envvars.ORDER_CA_BUNDLE, str(tls_files.ca_bundle))
    with pytest.raises(RoutingSourceError, match=r"http://127\.0\.0\.1:2 is plain HTTP"):
        load_routing_document(str(routing))
    monkeypatch.setenv(envvars.ORDER_REQUIRE_TLS, "false")
    assert load_routing_document(str(routing)).regions["HN"].ready is not None


def test_the_stress_tool_sends_nothing_to_a_plain_http_node_when_tls_is_configured(
    node_factory, tls_files: TlsFiles, tmp_path: Path
) -> None:
    node = node_factory("HCM")
    routing = write_document({"HCM": node.url}, tmp_path / "routing.json")
    args = ("--target", "nodes", "--routing", str(routing), "--regions", "HCM=1", "--orders", "5")
    refused = run_cli(
        *args, "--run-id", "plain-no", env={envvars.ORDER_CA_BUNDLE: str(tls_files.ca_bundle)}
    )
    assert refused.code == 2, refused.stdout + refused.stderr
    assert "never sent over plain HTTP" in refused.stderr.strip().splitlines()[-1]
    assert "Traceback" not in refused.stderr
    assert stored_orders(node, "plain-no") == []
    allowed = run_cli(*args, "--run-id", "plain-ok", "--report", "-")
    assert allowed.code == 0, allowed.stdout + allowed.stderr
    assert json.loads(allowed.stdout)["totals"]["committed"] == 5
    assert len(stored_orders(node, "plain-ok")) == 5
