"""A node with NODE_TLS_CERT / NODE_TLS_KEY serves HTTPS only (docs/tls.md).

Real certificates from a throwaway CA (tests/support/certs.py), a real uvicorn node, and the
clients' one ``verify=`` rule (order_contracts.tls) with and without ORDER_CA_BUNDLE.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from localmode.routing_source import LocalRoutingSource
from order_contracts import envvars, tls
from order_contracts.envvars import ConfigError
from order_contracts.regions import configured_proximity
from order_contracts.routing import RoutingDocument
from tests.conftest import RunningNode
from tests.node.conftest import run_node, seed_order
from tests.support.certs import TlsFiles
from warehouse_node.cli import load_settings, parse_args


def test_a_client_with_the_ca_bundle_commits_an_order(
    tls_node: RunningNode, tls_files: TlsFiles
) -> None:
    assert tls_node.url.startswith("https://127.0.0.1:")
    verify = tls.httpx_verify({envvars.ORDER_CA_BUNDLE: str(tls_files.ca_bundle)})
    with httpx.Client(base_url=tls_node.url, verify=verify, timeout=10) as http:
        assert http.post("/order", json=seed_order("tls-1")).status_code == 201
        assert http.get("/order/tls-1").json()["order_id"] == "tls-1"


def test_without_the_bundle_and_over_plain_http_the_node_is_not_reached(
    tls_node: RunningNode,
) -> None:
    # No ORDER_CA_BUNDLE: the default trust store does not know the test CA.
    unverified = httpx.Client(base_url=tls_node.url, verify=tls.httpx_verify({}), timeout=10)
    with unverified as http, pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        http.get("/health")
    # Plain HTTP to the TLS port never gets an answer from the app.
    plain = tls_node.url.replace("https://", "http://")
    with httpx.Client(base_url=plain, timeout=10) as http, pytest.raises(httpx.HTTPError):
        http.post("/order", json=seed_order("tls-plain")).raise_for_status()


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("mismatched key", "the key does not match the certificate"),
        ("missing cert", "TLS file not found"),
        ("cert without key", "must be set together"),
    ],
)
def test_the_node_refuses_to_start_with_bad_tls_files(
    tls_files: TlsFiles, tmp_path: Path, case: str, expected: str
) -> None:
    env = {
        "mismatched key": {
            "NODE_TLS_CERT": str(tls_files.cert),
            "NODE_TLS_KEY": str(tls_files.other_key),
        },
        # the first slice's names still work (aliases)
        "missing cert": {
            "NODE_TLS_CERT_FILE": str(tls_files.cert.with_name("absent.pem")),
            "NODE_TLS_KEY_FILE": str(tls_files.key),
        },
        "cert without key": {"NODE_TLS_CERT": str(tls_files.cert)},
    }[case]
    result = run_node("--region", "HCM", "--data-dir", str(tmp_path), env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("warehouse-node: invalid configuration:")
    assert expected in lines[0]


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["--tls-cert", "{cert}", "--tls-key", "{key}"], {}),
        (["--tls-cert-file", "{cert}", "--tls-key-file", "{key}"], {}),
        ([], {"NODE_TLS_CERT": "{cert}", "NODE_TLS_KEY": "{key}"}),
        ([], {"NODE_TLS_CERT_FILE": "{cert}", "NODE_TLS_KEY_FILE": "{key}"}),
    ],
    ids=["flags", "old flags", "env", "old env"],
)
def test_the_tls_names_and_their_aliases_set_the_same_pair(
    tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch, argv: list[str], env: dict[str, str]
) -> None:
    files = {"cert": str(tls_files.cert), "key": str(tls_files.key)}
    for name in ("NODE_TLS_CERT", "NODE_TLS_KEY", "NODE_TLS_CERT_FILE", "NODE_TLS_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(**files))
    overrides = parse_args(["--region", "HCM", *(arg.format(**files) for arg in argv)])
    settings = load_settings(overrides)
    assert settings.tls
    assert (settings.tls_cert_file, settings.tls_key_file) == (files["cert"], files["key"])


def test_a_flag_wins_over_the_old_environment_name(
    tls_files: TlsFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NODE_TLS_CERT_FILE", str(tmp_path / "old.pem"))
    monkeypatch.setenv("NODE_TLS_KEY_FILE", str(tmp_path / "old-key.pem"))
    argv = ["--region", "HCM", "--tls-cert", str(tls_files.cert), "--tls-key", str(tls_files.key)]
    assert load_settings(parse_args(argv)).tls_cert_file == str(tls_files.cert)


def test_a_bundle_that_cannot_be_loaded_is_a_config_error(tls_files: TlsFiles) -> None:
    with pytest.raises(ConfigError, match="ORDER_CA_BUNDLE: cannot load CA bundle"):
        tls.httpx_verify({envvars.ORDER_CA_BUNDLE: str(tls_files.ca_bundle.with_name("nope"))})
    assert tls.httpx_verify({envvars.ORDER_CA_BUNDLE: " "}) is True


def test_the_routing_source_routes_to_a_tls_node_only_with_the_bundle(
    tls_node: RunningNode, tls_files: TlsFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(envvars.ORDER_CA_BUNDLE, str(tls_files.ca_bundle))
    assert routed_ready(tls_node, tmp_path / "with.json")
    monkeypatch.delenv(envvars.ORDER_CA_BUNDLE)
    # Without the bundle the routing source cannot verify the node: not ready, never routed to.
    assert not routed_ready(tls_node, tmp_path / "without.json")


def routed_ready(node: RunningNode, out: Path) -> bool:
    source = LocalRoutingSource({"HCM": node.url}, configured_proximity(), out)
    try:
        source.poll_once()
    finally:
        source.close()
    return RoutingDocument.from_json(out.read_text()).regions["HCM"].ready
