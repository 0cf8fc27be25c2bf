"""TLS in the chart (issue 17, docs/tls.md#in-the-chart): cert-manager Certificates (a named
issuer or the chart's own CA chain) or an existing Secret, mounted into nodes and followers as a
directory; HTTPS probes, https Service ports the controller turns into https:// URLs, the
ServiceMonitor over HTTPS, the CA for the clients, and NetworkPolicies left as they are.

Rendered with the real helm; the cert-manager documents are checked against cert-manager's
schemas (tests/chart/crds/cert-manager/, a hand-written subset); a certificate for the rendered
dnsNames is served by a real warehouse-node and verified by OpenSSL for every address a client
dials.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from controller.config import ControllerConfig
from controller.metrics import Metrics as ControllerMetrics
from controller.observe import service_summary
from localmode.processes import ManagedProcess, free_port, wait_until
from localmode.prometheus import prometheus_binary
from order_contracts import envvars
from tests.conftest import NodeFactory, RunningNode
from tests.support.certs import CertificateAuthority, ServerPair

from .helpers import CHART, NAMESPACE, by_kind, env_of, one, render_chart, render_error, run_helm
from .test_replication import REPLICATED

CRDS = Path(__file__).with_name("crds") / "cert-manager"
SCRIPT = CHART / "files" / "check_health.py"
#: the chart's own chain: cert-manager issues everything
CERT_MANAGER = {"tls": {"enabled": True, "certManager": {"enabled": True}}}
#: an issuer the user runs
CLUSTER_ISSUER = {
    "tls": {
        "enabled": True,
        "certManager": {"enabled": True, "issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer"}},
    }
}
#: a kubernetes.io/tls Secret the user made
EXISTING = {"tls": {"enabled": True, "existingSecret": "orders-tls"}}
MONITORS = ("monitoring.coreos.com/v1/ServiceMonitor",)
REGIONS = ("hcm", "hn", "dn")


def _with(*parts: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in parts:
        merged.update(part)
    return merged


def _stress(values: dict[str, Any]) -> dict[str, Any]:
    return {**values, "stress": {"enabled": True, "target": "nodes"}}


def _render(values: dict[str, Any]) -> list[dict]:
    return render_chart(values=_stress(_with(REPLICATED, values)), api_versions=MONITORS)


def _pod(docs: list[dict], kind: str, name: str) -> dict:
    doc = one(docs, kind, name)
    return doc["spec"] if kind == "Pod" else doc["spec"]["template"]["spec"]


def _mounts(container: dict) -> dict[str, dict]:
    return {m["name"]: m for m in container.get("volumeMounts", [])}


def _volumes(spec: dict) -> dict[str, dict]:
    return {v["name"]: v for v in spec.get("volumes", [])}


def _url(service: dict) -> str:
    """The URL the controller publishes for a rendered Service (the API server adds the
    namespace, which `helm template` leaves out)."""
    summary = service_summary(
        {**service, "metadata": {**service["metadata"], "namespace": NAMESPACE}}
    )
    assert summary is not None, service["metadata"]["name"]
    return summary.url


def _host(url: str) -> str:
    return url.split("//", 1)[1].split(":", 1)[0].split("/", 1)[0]


def _servers(docs: list[dict]) -> list[tuple[str, dict]]:
    """(label, pod spec) of every node and follower."""
    return [
        (f"{kind}/{name}", _pod(docs, kind, name))
        for kind, prefix in (("StatefulSet", "orders-warehouse"), ("Deployment", "orders-follower"))
        for name in (f"{prefix}-{region}" for region in REGIONS)
        if name in {d["metadata"]["name"] for d in by_kind(docs, kind)}
    ]


@pytest.fixture(scope="module")
def chain() -> list[dict]:
    return _render(CERT_MANAGER)


def test_tls_is_off_by_default_and_the_chart_renders_as_before():
    docs = render_chart(values=_stress(REPLICATED), api_versions=MONITORS)
    assert not [d for d in docs if d["apiVersion"].startswith("cert-manager.io/")]
    controller = _pod(docs, "Deployment", "orders-controller")["containers"][0]
    assert not {k for k in env_of(controller) if k.startswith("CONTROLLER_TLS")}
    assert "tls" not in _mounts(controller)
    for label, spec in _servers(docs):
        (container,) = spec["containers"]
        assert not {k for k in env_of(container) if k.startswith("NODE_TLS")}, label
        assert "tls" not in _volumes(spec) and "tls" not in _mounts(container), label
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert "scheme" not in container[probe]["httpGet"], (label, probe)
    for service in by_kind(docs, "Service"):
        assert [p["name"] for p in service["spec"]["ports"]] in (["http"], ["metrics"])
    job = _pod(docs, "Job", "orders-stress-1")
    assert "ORDER_CA_BUNDLE" not in env_of(job["containers"][0])


@pytest.mark.parametrize(
    ("tls", "complaint"),
    [
        (
            {"enabled": True},
            "tls.enabled is true but no certificate source is set: set "
            "tls.certManager.enabled=true (cert-manager issues them) or tls.existingSecret",
        ),
        (
            {"enabled": True, "certManager": {"enabled": True}, "existingSecret": "mine"},
            'tls: both tls.certManager.enabled and tls.existingSecret ("mine") are set: '
            "choose one certificate source",
        ),
    ],
    ids=["neither source", "both sources"],
)
def test_enabled_tls_needs_exactly_one_certificate_source(tls, complaint):
    error = render_error({"tls": tls})
    # helm's one "execution error" line, the chart's message in it
    (line,) = [line for line in error.splitlines() if line.startswith("Error:")]
    assert complaint in line


@pytest.mark.parametrize(
    ("tls", "complaint"),
    [
        ({"enabled": "yes"}, "enabled"),
        ({"certManager": {"duration": "90 days"}}, "duration"),
        ({"certManager": {"issuerRef": {"name": "Corp CA"}}}, "name"),
        ({"certManager": {"issuerRef": {"kind": "clusterissuer"}}}, "kind"),
        ({"existingSecret": "Not_A_Name"}, "existingSecret"),
        ({"reloadIntervalSeconds": -1}, "reloadIntervalSeconds"),
        ({"controller": {"existingSecret": "Not_A_Name"}}, "existingSecret"),
        ({"controller": {"secret": "controller-tls"}}, "secret"),
        ({"certManger": {}}, "certManger"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else v,
)
def test_schema_rejects_bad_tls_values(tls, complaint):
    error = render_error({"tls": tls})
    assert "values don't meet the specifications of the schema" in error
    assert complaint in error


def test_the_chart_made_chain_is_self_signed_issuer_then_ca_certificate_then_ca_issuer(chain):
    selfsigned = one(chain, "Issuer", "orders-selfsigned")
    ca_cert = one(chain, "Certificate", "orders-ca")
    ca_issuer = one(chain, "Issuer", "orders-ca")
    assert selfsigned["spec"] == {"selfSigned": {}}
    assert ca_cert["spec"]["isCA"] is True
    assert ca_cert["spec"]["issuerRef"] == {
        "name": "orders-selfsigned",
        "kind": "Issuer",
        "group": "cert-manager.io",
    }
    assert ca_issuer["spec"] == {"ca": {"secretName": ca_cert["spec"]["secretName"]}}
    for region in REGIONS:
        cert = one(chain, "Certificate", f"orders-warehouse-{region}-tls")["spec"]
        assert cert["issuerRef"] == {
            "name": "orders-ca",
            "kind": "Issuer",
            "group": "cert-manager.io",
        }
        assert cert["secretName"] == f"orders-warehouse-{region}-tls"
        assert cert["usages"] == ["digital signature", "server auth"]
        assert cert["privateKey"]["rotationPolicy"] == "Always"
        assert (cert["duration"], cert["renewBefore"]) == ("2160h", "360h")
        ns = NAMESPACE
        primary = f"orders-warehouse-{region}"
        assert {primary, f"{primary}.{ns}", f"{primary}.{ns}.svc"} <= set(cert["dnsNames"])
        assert f"{primary}.{ns}.svc.cluster.local" in cert["dnsNames"]
        assert f"*.{primary}-pods.{ns}.svc.cluster.local" in cert["dnsNames"]
        # the follower's names only where a follower runs (REPLICATED: HCM's)
        followers = [n for n in cert["dnsNames"] if n.startswith("orders-follower-")]
        assert bool(followers) == (region == "hcm"), (region, followers)


def test_a_named_issuer_is_used_as_it_is_and_no_chain_is_made():
    docs = _render(CLUSTER_ISSUER)
    assert not by_kind(docs, "Issuer")
    certificates = by_kind(docs, "Certificate")
    assert sorted(c["metadata"]["name"] for c in certificates) == sorted(
        [*(f"orders-warehouse-{region}-tls" for region in REGIONS), "orders-controller-tls"]
    )
    for cert in certificates:
        assert cert["spec"]["issuerRef"] == {
            "name": "corp-ca",
            "kind": "ClusterIssuer",
            "group": "cert-manager.io",
        }
    # clients trust the ca.crt cert-manager writes into the (first region's) Secret, and so
    # does Prometheus for the controller
    job = _pod(docs, "Job", "orders-stress-1")
    assert _volumes(job)["orders-ca"]["secret"]["secretName"] == "orders-warehouse-hcm-tls"
    (endpoint,) = one(docs, "ServiceMonitor", "orders-controller")["spec"]["endpoints"]
    assert endpoint["tlsConfig"]["ca"]["secret"]["name"] == "orders-warehouse-hcm-tls"


def test_an_existing_secret_serves_every_region_and_no_cert_manager_object_renders():
    docs = _render(EXISTING)
    assert not [d for d in docs if d["apiVersion"].startswith("cert-manager.io/")]
    for label, spec in _servers(docs):
        assert _volumes(spec)["tls"]["secret"]["secretName"] == "orders-tls", label
    for kind, name in (("Job", "orders-stress-1"), ("Pod", "orders-test-health")):
        assert _volumes(_pod(docs, kind, name))["orders-ca"]["secret"]["secretName"] == "orders-tls"


def test_nodes_and_followers_mount_their_regions_secret_as_a_read_only_directory(chain):
    servers = _servers(chain)
    assert len(servers) == 4  # three primaries, HCM's follower (REPLICATED)
    for label, spec in servers:
        (container,) = spec["containers"]
        region = label.rsplit("-", 1)[1]
        volume = _volumes(spec)["tls"]["secret"]
        assert volume["secretName"] == f"orders-warehouse-{region}-tls", label
        assert volume["defaultMode"] == 0o440
        assert {item["path"] for item in volume["items"]} == {"tls.crt", "tls.key"}
        mount = _mounts(container)["tls"]
        # a subPath mount would never see a renewed Secret (the kubelet swaps ..data)
        assert mount == {"name": "tls", "mountPath": "/etc/orders/tls", "readOnly": True}, label
        env = env_of(container)
        assert env["NODE_TLS_CERT"] == "/etc/orders/tls/tls.crt"
        assert env["NODE_TLS_KEY"] == "/etc/orders/tls/tls.key"
        assert env["NODE_TLS_RELOAD_INTERVAL"] == "10"
        for other in (*spec.get("initContainers", []), *spec["containers"]):
            assert not any("subPath" in m for m in other.get("volumeMounts", [])), label


def test_probes_go_over_https_to_the_same_port(chain):
    for label, spec in _servers(chain):
        (container,) = spec["containers"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"] == {
                "path": "/health",
                "port": "http",
                "scheme": "HTTPS",
            }, (label, probe)


def test_services_name_their_port_https_and_the_controller_reads_https_urls(chain):
    names = [f"orders-warehouse-{region}" for region in REGIONS] + ["orders-follower-hcm"]
    for name in names:
        service = one(chain, "Service", name)
        (port,) = service["spec"]["ports"]
        assert (port["name"], port["targetPort"], port["appProtocol"]) == ("https", "http", "https")
        # the controller's own parser, on the Service as the API server returns it
        assert _url(service) == f"https://{name}.{NAMESPACE}.svc:8000"
    headless = one(chain, "Service", "orders-warehouse-hcm-pods")["spec"]["ports"]
    assert [p["name"] for p in headless] == ["https"]
    follower = _pod(chain, "Deployment", "orders-follower-hcm")["containers"][0]
    assert (
        env_of(follower)["NODE_PRIMARY_URL"] == f"https://orders-warehouse-hcm.{NAMESPACE}.svc:8000"
    )


def test_network_policies_are_the_same_with_tls(chain):
    plain = render_chart(values=_stress(REPLICATED), api_versions=MONITORS)
    policies = by_kind(chain, "NetworkPolicy")
    assert len(policies) == 3  # warehouses, controller, HCM's follower
    assert policies == by_kind(plain, "NetworkPolicy")
    # the pods keep the port name the policies admit
    for _, spec in _servers(chain):
        assert [p["name"] for p in spec["containers"][0]["ports"]] == ["http"]


def test_the_service_monitor_scrapes_each_region_over_https_for_its_own_name(chain):
    monitor = one(chain, "ServiceMonitor", "orders-warehouse")
    endpoints = monitor["spec"]["endpoints"]
    assert len(endpoints) == len(REGIONS)
    for endpoint, region in zip(endpoints, REGIONS, strict=True):
        assert (endpoint["port"], endpoint["scheme"], endpoint["path"]) == (
            "https",
            "https",
            "/metrics",
        )
        assert endpoint["tlsConfig"]["ca"] == {"secret": {"name": "orders-ca", "key": "ca.crt"}}
        server_name = endpoint["tlsConfig"]["serverName"]
        assert server_name == f"orders-warehouse-{region}.{NAMESPACE}.svc"
        cert = one(chain, "Certificate", f"orders-warehouse-{region}-tls")
        assert server_name in cert["spec"]["dnsNames"]
        keep = endpoint["relabelings"][0]
        assert keep == {
            "sourceLabels": ["__meta_kubernetes_service_label_orders_routing_io_region"],
            "regex": region.upper(),
            "action": "keep",
        }
    # primaries only: the followers have a ServiceMonitor of their own
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert sorted(_selected(chain, selector)) == [f"orders-warehouse-{r}" for r in sorted(REGIONS)]


def _selected(docs: list[dict], selector: dict[str, str]) -> list[str]:
    """Names of the (ClusterIP) Services a ServiceMonitor's matchLabels select."""
    return [
        s["metadata"]["name"]
        for s in by_kind(docs, "Service")
        if selector.items() <= s["metadata"]["labels"].items()
        and s["spec"].get("clusterIP") != "None"
    ]


def test_followers_are_scraped_over_https_for_their_own_service_name(chain):
    """REPLICATED runs a follower in HCM only: one endpoint, for HCM's follower Service, whose
    name HCM's certificate carries; its series keep the follower component label."""
    monitor = one(chain, "ServiceMonitor", "orders-warehouse-follower")
    assert _selected(chain, monitor["spec"]["selector"]["matchLabels"]) == ["orders-follower-hcm"]
    (endpoint,) = monitor["spec"]["endpoints"]
    service = one(chain, "Service", "orders-follower-hcm")
    assert endpoint["port"] == service["spec"]["ports"][0]["name"] == "https"
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"] == {
        "ca": {"secret": {"name": "orders-ca", "key": "ca.crt"}},
        "serverName": f"orders-follower-hcm.{NAMESPACE}.svc",
    }
    cert = one(chain, "Certificate", "orders-warehouse-hcm-tls")["spec"]
    assert endpoint["tlsConfig"]["serverName"] in cert["dnsNames"]
    assert endpoint["relabelings"][0]["regex"] == "HCM"
    assert service["metadata"]["labels"]["app.kubernetes.io/component"] == "warehouse-follower"


def test_the_controller_serves_its_metrics_over_https_from_its_own_certificate(chain):
    cert = one(chain, "Certificate", "orders-controller-tls")["spec"]
    assert cert["secretName"] == "orders-controller-tls"
    service = "orders-controller-metrics"
    ns = NAMESPACE
    assert cert["dnsNames"] == [
        service,
        f"{service}.{ns}",
        f"{service}.{ns}.svc",
        f"{service}.{ns}.svc.cluster.local",
    ]
    # the same issuer, key and lifetime as the regions' certificates
    region = one(chain, "Certificate", "orders-warehouse-hcm-tls")["spec"]
    for field in ("issuerRef", "privateKey", "usages", "duration", "renewBefore"):
        assert cert[field] == region[field], field

    spec = _pod(chain, "Deployment", "orders-controller")
    annotations = one(chain, "Deployment", "orders-controller")["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert annotations["prometheus.io/scheme"] == "https"
    (container,) = spec["containers"]
    env = env_of(container)
    assert env["CONTROLLER_TLS_CERT"] == "/etc/orders/tls/tls.crt"
    assert env["CONTROLLER_TLS_KEY"] == "/etc/orders/tls/tls.key"
    assert _mounts(container)["tls"] == {
        "name": "tls",
        "mountPath": "/etc/orders/tls",
        "readOnly": True,
    }
    assert not any("subPath" in m for m in container["volumeMounts"])
    assert _volumes(spec)["tls"]["secret"] == {
        "secretName": "orders-controller-tls",
        "defaultMode": 0o440,
        "items": [{"key": "tls.crt", "path": "tls.crt"}, {"key": "tls.key", "path": "tls.key"}],
    }
    # the Service's port is https, the pod's keeps the name its NetworkPolicy admits
    (port,) = one(chain, "Service", service)["spec"]["ports"]
    assert (port["name"], port["targetPort"], port["appProtocol"]) == ("https", "metrics", "https")
    assert [p["name"] for p in container["ports"]] == ["metrics", "health"]
    policy = one(chain, "NetworkPolicy", "orders-controller")["spec"]["ingress"]
    assert {p["port"] for rule in policy for p in rule["ports"]} == {"metrics"}
    # an https port does not make the controller route to its own metrics Service
    metrics_service = one(chain, "Service", service)
    metadata = {**metrics_service["metadata"], "namespace": ns}
    assert service_summary({**metrics_service, "metadata": metadata}) is None

    (endpoint,) = one(chain, "ServiceMonitor", "orders-controller")["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["scheme"]) == ("https", "https")
    assert endpoint["tlsConfig"] == {
        "ca": {"secret": {"name": "orders-ca", "key": "ca.crt"}},
        "serverName": f"{service}.{ns}.svc",
    }
    assert endpoint["tlsConfig"]["serverName"] in cert["dnsNames"]


def test_the_controller_serves_from_the_existing_secret_or_its_own():
    shared = _render(EXISTING)
    spec = _pod(shared, "Deployment", "orders-controller")
    assert _volumes(spec)["tls"]["secret"]["secretName"] == "orders-tls"
    (endpoint,) = one(shared, "ServiceMonitor", "orders-controller")["spec"]["endpoints"]
    assert endpoint["tlsConfig"]["ca"]["secret"]["name"] == "orders-tls"

    # a Secret of its own, with either source: no controller Certificate, its own CA checked
    own = {"tls": {**EXISTING["tls"], "controller": {"existingSecret": "controller-tls"}}}
    with_cm = {"tls": {**CERT_MANAGER["tls"], "controller": {"existingSecret": "controller-tls"}}}
    for values in (own, with_cm):
        docs = _render(values)
        spec = _pod(docs, "Deployment", "orders-controller")
        assert _volumes(spec)["tls"]["secret"]["secretName"] == "controller-tls"
        (endpoint,) = one(docs, "ServiceMonitor", "orders-controller")["spec"]["endpoints"]
        assert endpoint["tlsConfig"]["ca"]["secret"]["name"] == "controller-tls"
        names = [c["metadata"]["name"] for c in by_kind(docs, "Certificate")]
        assert "orders-controller-tls" not in names and len(names) == (
            0 if values is own else len(REGIONS) + 1  # the regions' and the chart's CA
        )
        # the warehouses keep theirs
        warehouse = one(docs, "ServiceMonitor", "orders-warehouse")["spec"]["endpoints"][0]
        assert warehouse["tlsConfig"]["ca"]["secret"]["name"] != "controller-tls"


def test_clients_get_only_the_cas_certificate_and_dial_https(chain):
    for kind, name in (("Job", "orders-stress-1"), ("Pod", "orders-test-health")):
        spec = _pod(chain, kind, name)
        (container,) = spec["containers"]
        assert env_of(container)["ORDER_CA_BUNDLE"] == "/etc/orders/ca/ca.crt"
        assert _mounts(container)["orders-ca"] == {
            "name": "orders-ca",
            "mountPath": "/etc/orders/ca",
            "readOnly": True,
        }
        # ca.crt only: the CA's own key, in the same Secret, never reaches a client pod
        assert _volumes(spec)["orders-ca"]["secret"] == {
            "secretName": "orders-ca",
            "defaultMode": 0o444,
            "items": [{"key": "ca.crt", "path": "ca.crt"}],
        }
    urls = _pod(chain, "Pod", "orders-test-health")["containers"][0]["command"][4:]
    assert urls and all(url.startswith("https://") for url in urls)


def _schema(kind: str) -> dict:
    return json.loads((CRDS / f"{kind.lower()}.json").read_text())


@pytest.mark.parametrize(
    "values", [CERT_MANAGER, CLUSTER_ISSUER], ids=["own chain", "named issuer"]
)
def test_cert_manager_documents_match_cert_managers_schemas(values):
    docs = [d for d in _render(values) if d["apiVersion"].startswith("cert-manager.io/")]
    assert {d["kind"] for d in docs} <= {"Certificate", "Issuer"} and docs
    for doc in docs:
        schema = _schema(doc["kind"])
        validator = jsonschema.validators.validator_for(schema)(schema)
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
        assert not errors, (doc["metadata"]["name"], errors)


def test_the_schemas_refuse_what_cert_manager_would(chain):
    """Not vacuous: each schema rejects a typo, a wrong enum and a missing required field."""
    cert = one(chain, "Certificate", "orders-warehouse-hcm-tls")
    issuer = one(chain, "Issuer", "orders-ca")
    bad = [
        ("Certificate", {**cert, "spec": {**cert["spec"], "dnsName": ["x"]}}),
        ("Certificate", {**cert, "spec": {**cert["spec"], "usages": ["server"]}}),
        (
            "Certificate",
            {**cert, "spec": {**cert["spec"], "privateKey": {"algorithm": "ECDSA", "size": 2048}}},
        ),
        (
            "Certificate",
            {**cert, "spec": {k: v for k, v in cert["spec"].items() if k != "secretName"}},
        ),
        ("Certificate", {**cert, "spec": {**cert["spec"], "duration": "90d"}}),
        ("Issuer", {**issuer, "spec": {"ca": {}}}),
        ("Issuer", {**issuer, "spec": {"ca": {"secretName": "x"}, "selfSigned": {}}}),
    ]
    for kind, doc in bad:
        schema = _schema(kind)
        assert not jsonschema.validators.validator_for(schema)(schema).is_valid(doc), doc["spec"]


def _handshake(port: int, host: str, context: ssl.SSLContext) -> None:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host),
    ):
        pass


@dataclass(frozen=True)
class ServedRegion:
    """HCM's node serving what cert-manager would issue for the rendered Certificate."""

    node: RunningNode
    #: the CA's certificate (what `ca.crt` of the CA Secret holds)
    bundle: Path


def _rendered_tls_env(spec: dict, pair: ServerPair, directory: Path, prefix: str) -> dict[str, str]:
    """The rendered container's ``<prefix>*`` variables, pointing at ``directory`` laid out as
    the kubelet lays out the pod's Secret volume ``tls`` (its items' paths) holding ``pair``."""
    (container,) = spec["containers"]
    mount_path = _mounts(container)["tls"]["mountPath"]
    secret = {"tls.crt": pair.cert_pem, "tls.key": pair.key_pem}
    directory.mkdir()
    for item in _volumes(spec)["tls"]["secret"]["items"]:
        (directory / item["path"]).write_bytes(secret[item["key"]])
    return {
        name: value.replace(mount_path, str(directory))
        for name, value in env_of(container).items()
        if name.startswith(prefix)
    }


@pytest.fixture
def hcm_served(
    chain, node_factory: NodeFactory, tls_ca: CertificateAuthority, tmp_path: Path
) -> ServedRegion:
    """A certificate for HCM's rendered dnsNames (signed by the test CA), served by a real node
    started from the rendered container's own TLS variables, its Secret volume laid out as the
    kubelet would (the items' paths) in a directory standing in for the mount."""
    dns_names = one(chain, "Certificate", "orders-warehouse-hcm-tls")["spec"]["dnsNames"]
    # 127.0.0.1 only so that the node's own readiness check (and check_health) can dial it
    pair = tls_ca.issue([*dns_names, "127.0.0.1"])
    bundle = tmp_path / "ca.crt"
    bundle.write_bytes(tls_ca.cert_pem)
    sts = _pod(chain, "StatefulSet", "orders-warehouse-hcm")
    rendered = _rendered_tls_env(sts, pair, tmp_path / "secret-volume", "NODE_TLS_")
    assert set(rendered) == {
        envvars.NODE_TLS_CERT,
        envvars.NODE_TLS_KEY,
        "NODE_TLS_RELOAD_INTERVAL",
    }
    node = node_factory("HCM", env={**rendered, envvars.ORDER_CA_BUNDLE: str(bundle)})
    assert node.url.startswith("https://")
    return ServedRegion(node, bundle)


@pytest.fixture
def controller_served(chain, tls_ca: CertificateAuthority, tmp_path: Path) -> Iterator[str]:
    """The controller's real /metrics server (controller.metrics.Metrics, configured by
    ControllerConfig from the rendered container's CONTROLLER_TLS_* variables) serving what
    cert-manager would issue for the controller's rendered Certificate; yields its address."""
    dns_names = one(chain, "Certificate", "orders-controller-tls")["spec"]["dnsNames"]
    spec = _pod(chain, "Deployment", "orders-controller")
    rendered = _rendered_tls_env(
        spec, tls_ca.issue(dns_names), tmp_path / "controller-volume", "CONTROLLER_TLS_"
    )
    assert set(rendered) == {envvars.CONTROLLER_TLS_CERT, envvars.CONTROLLER_TLS_KEY}
    config = ControllerConfig.from_env(rendered)
    metrics, port = ControllerMetrics(), free_port()
    metrics.serve(port, "127.0.0.1", config.metrics_tls_cert, config.metrics_tls_key)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        metrics.shutdown()


def test_a_certificate_for_the_rendered_names_verifies_for_every_address_clients_dial(
    chain, hcm_served: ServedRegion
):
    """What cert-manager would issue for HCM's dnsNames, served by a real node: OpenSSL accepts
    it for every host name a client of the rendered chart uses, and refuses another region's."""
    node, bundle = hcm_served.node, hcm_served.bundle
    port = int(node.url.rsplit(":", 1)[1])
    follower = _pod(chain, "Deployment", "orders-follower-hcm")["containers"][0]
    test_pod = _pod(chain, "Pod", "orders-test-health")["containers"][0]
    monitor = one(chain, "ServiceMonitor", "orders-warehouse")["spec"]["endpoints"][0]
    # the routing document's URLs (the controller's parser on the rendered Services), the
    # follower's primary, the `helm test` URLs, Prometheus' serverName
    hosts = {
        _host(_url(one(chain, "Service", f"orders-{part}-hcm")))
        for part in ("warehouse", "follower")
    }
    hosts.add(_host(env_of(follower)["NODE_PRIMARY_URL"]))
    hosts |= {_host(url) for url in test_pod["command"][4:] if "-hcm:" in url}
    hosts.add(monitor["tlsConfig"]["serverName"])
    # the StatefulSet pod's stable name through the headless Service, fully qualified
    hosts.add(f"orders-warehouse-hcm-0.orders-warehouse-hcm-pods.{NAMESPACE}.svc.cluster.local")
    assert len(hosts) >= 5, hosts
    context = ssl.create_default_context(cafile=str(bundle))
    for host in sorted(hosts):
        _handshake(port, host, context)
    for wrong in (f"orders-warehouse-hn.{NAMESPACE}.svc", "orders-warehouse-hcm.other.svc"):
        with pytest.raises(ssl.SSLCertVerificationError, match="match"):
            _handshake(port, wrong, context)

    # the `helm test` script, with and without the CA it is given
    def check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", SCRIPT.read_text(), "5", f"{node.url}/health"],
            env={"PATH": os.environ["PATH"], **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    trusted = check({"ORDER_CA_BUNDLE": str(bundle)})
    assert trusted.returncode == 0, trusted.stderr
    assert "all 1 services answer /health" in trusted.stdout
    untrusted = check({})
    assert untrusted.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr and node.url in untrusted.stderr


def _scrape_job(endpoint: dict, name: str, ca_file: Path) -> dict[str, Any]:
    """One ServiceMonitor endpoint as the Prometheus Operator turns it into a scrape job (the
    parts the chart sets: scheme, path, TLS, relabelings; the CA Secret becomes a file)."""
    tls_config = endpoint["tlsConfig"]
    return {
        "job_name": name,
        "scheme": endpoint["scheme"],
        "metrics_path": endpoint["path"],
        "scrape_timeout": "1s",
        "tls_config": {"ca_file": str(ca_file), "server_name": tls_config["serverName"]},
        "relabel_configs": [
            {
                "source_labels": r["sourceLabels"],
                **({"regex": r["regex"]} if "regex" in r else {}),
                **({"target_label": r["targetLabel"]} if "targetLabel" in r else {}),
                "action": r.get("action", "replace"),
            }
            for r in endpoint["relabelings"]
        ],
    }


def _service_target(address: str, component: str, region: str | None) -> dict[str, Any]:
    """A target as Kubernetes service discovery gives it: the Service's labels as meta labels."""
    meta = "__meta_kubernetes_service_label_"
    labels = {f"{meta}app_kubernetes_io_component": component}
    if region:
        labels[f"{meta}orders_routing_io_region"] = region
    return {"targets": [address], "labels": labels}


def test_prometheus_scrapes_regions_followers_and_the_controller_for_their_own_names(
    chain, hcm_served: ServedRegion, controller_served: str, tmp_path: Path
):
    """A real Prometheus with the three ServiceMonitors' endpoints as scrape jobs, each job seeing
    the targets its selector's component selects. The primaries' endpoints all see HCM's node
    labelled HCM and the same node labelled HN: only HCM's job keeps the HCM target and verifies
    it; HN's job keeps the HN one and refuses it, the certificate being HCM's. HCM's certificate
    names HCM's follower Service too, so the follower job (the same node labelled as HCM's
    follower) verifies and keeps component="warehouse-follower"; the controller's job scrapes
    the real controller metrics server over HTTPS for the controller's Service name."""
    node = hcm_served.node.url.removeprefix("https://")
    targets = {
        "warehouse": [_service_target(node, "warehouse", r) for r in ("HCM", "HN")],
        "warehouse-follower": [_service_target(node, "warehouse-follower", "HCM")],
        "controller": [_service_target(controller_served, "controller", None)],
    }
    jobs = []
    for name in ("orders-warehouse", "orders-warehouse-follower", "orders-controller"):
        monitor = one(chain, "ServiceMonitor", name)["spec"]
        component = monitor["selector"]["matchLabels"]["app.kubernetes.io/component"]
        jobs += [
            {
                **_scrape_job(endpoint, f"{component}-{index}", hcm_served.bundle),
                "static_configs": targets[component],
            }
            for index, endpoint in enumerate(monitor["endpoints"])
        ]
    assert len(jobs) == len(REGIONS) + 1 + 1  # a follower in HCM only (REPLICATED)
    config = {"global": {"scrape_interval": "1s"}, "scrape_configs": jobs}
    work = tmp_path / "prometheus"
    work.mkdir()
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = ManagedProcess(
        "prometheus",
        [
            prometheus_binary(),
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        work / "prometheus.log",
        ready_url=f"{url}/-/ready",
    )
    process.start(ready_timeout=30)
    try:

        def targets_scraped() -> list[dict[str, Any]] | None:
            targets_url = f"{url}/api/v1/targets"
            with urllib.request.urlopen(targets_url, timeout=5) as response:  # noqa: S310
                active = json.load(response)["data"]["activeTargets"]
            done = len(active) == 4 and all(t["health"] != "unknown" for t in active)
            return active if done else None

        wait_until(lambda: targets_scraped() is not None, 30, 0.2, "all four targets scraped")
        active = targets_scraped() or []
    finally:
        process.stop(grace=10)
    by_pool = {t["scrapePool"]: t for t in active}
    # DN's job kept nothing
    assert set(by_pool) == {"warehouse-0", "warehouse-1", "warehouse-follower-0", "controller-0"}
    for pool in ("warehouse-0", "warehouse-follower-0", "controller-0"):
        assert by_pool[pool]["health"] == "up", (pool, by_pool[pool]["lastError"])
    labels = {pool: by_pool[pool]["labels"] for pool in by_pool}
    assert (labels["warehouse-0"]["component"], labels["warehouse-0"]["region"]) == (
        "warehouse",
        "HCM",
    )
    follower = labels["warehouse-follower-0"]
    assert (follower["component"], follower["region"]) == ("warehouse-follower", "HCM")
    assert labels["controller-0"]["component"] == "controller"
    assert "region" not in labels["controller-0"]
    assert labels["warehouse-1"]["region"] == "HN"
    assert by_pool["warehouse-1"]["health"] == "down"
    error = by_pool["warehouse-1"]["lastError"]
    assert "certificate is valid for" in error and "orders-warehouse-hn.orders.svc" in error, error


@pytest.mark.parametrize("values", [CERT_MANAGER, EXISTING], ids=["cert-manager", "existing"])
def test_helm_lint_strict_passes_with_tls(values):
    result = run_helm(["lint", "--strict", str(CHART)], values)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_longest_names_the_chart_allows_still_make_valid_certificates():
    """A 25-character release name and a 16-character region give a 52-character StatefulSet
    (the most orders.validate allows): its Certificate and Secret names, and the headless
    Service's label inside the wildcard dnsName, must still be valid DNS names and labels."""
    values = {
        **CERT_MANAGER,
        "fullnameOverride": "a" * 25,
        "regions": [{"name": "R" * 16}],
        "replication": REPLICATED["replication"],
    }
    docs = render_chart(values=values)
    certificates = by_kind(docs, "Certificate")
    schema = _schema("Certificate")
    validator = jsonschema.validators.validator_for(schema)(schema)
    region_cert = next(c for c in certificates if not c["spec"].get("isCA"))
    assert len(region_cert["metadata"]["name"]) == 52 + len("-tls")
    for cert in certificates:
        errors = [e.message for e in validator.iter_errors(cert)]
        assert not errors, (cert["metadata"]["name"], errors)
        assert len(cert["metadata"]["name"]) <= 63
    wildcard = next(n for n in region_cert["spec"]["dnsNames"] if n.startswith("*."))
    assert max(len(label) for label in wildcard.split(".")) == 52 + len("-pods")
    # the longest base name, with every name TLS and monitoring add: the controller's
    # Certificate and the followers' ServiceMonitor (<40>-warehouse-follower, 59) still fit
    longest = render_chart(
        values={**values, "fullnameOverride": "f" * 40, "regions": [{"name": "A"}]},
        api_versions=MONITORS,
    )
    names = {d["metadata"]["name"] for d in longest}
    assert {"f" * 40 + "-controller-tls", "f" * 40 + "-warehouse-follower"} <= names
    assert max(len(name) for name in names) <= 63
    controller = one(longest, "Certificate", "f" * 40 + "-controller-tls")
    assert not [e.message for e in validator.iter_errors(controller)]
