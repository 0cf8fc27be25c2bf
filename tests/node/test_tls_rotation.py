"""A node picks up renewed certificate files without a restart (docs/tls.md#certificate-rotation).

The files sit in a Kubernetes Secret volume's layout (``tls.crt -> ..data/tls.crt``, ``..data``
a symlink swapped atomically to a new timestamped directory), real nodes serve real HTTPS, and
each check opens a new TLS connection to see which certificate new handshakes get. What can
fail: a node still serving the old serial, a request dropped or refused while the pair changes,
an acknowledged order missing, a bad pair taking the place of the good one.
"""

from __future__ import annotations

import itertools
import os
import socket
import ssl
import threading
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from localmode.processes import wait_until
from order_contracts import envvars, tls
from tests.conftest import NodeFactory, RunningNode
from tests.node.conftest import seed_order
from tests.support.certs import CertificateAuthority, ServerPair, TlsFiles

RELOAD = "0.2"  # NODE_TLS_RELOAD_INTERVAL of these nodes (seconds)
SWAP_TIMEOUT = 30.0


class SecretVolume:
    """A directory laid out the way the kubelet projects a Secret, renewed the same way."""

    _generation = itertools.count()

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.cert, self.key = root / "tls.crt", root / "tls.key"

    def publish(self, cert_pem: bytes, key_pem: bytes) -> None:
        """Write a new ``..<n>`` directory and swap ``..data`` to it in one rename."""
        version = self.root / f"..{next(self._generation)}"
        version.mkdir()
        (version / "tls.crt").write_bytes(cert_pem)
        (version / "tls.key").write_bytes(key_pem)
        link = self.root / "..data_tmp"
        link.symlink_to(version.name)
        os.replace(link, self.root / "..data")
        for name in ("tls.crt", "tls.key"):
            if not (self.root / name).is_symlink():
                (self.root / name).symlink_to(f"..data/{name}")

    def env(self, bundle: Path) -> dict[str, str]:
        return {
            envvars.NODE_TLS_CERT: str(self.cert),
            envvars.NODE_TLS_KEY: str(self.key),
            "NODE_TLS_RELOAD_INTERVAL": RELOAD,
            envvars.ORDER_CA_BUNDLE: str(bundle),
        }


def served_serial(node: RunningNode, context: ssl.SSLContext) -> int:
    """The serial of the certificate a new handshake with ``node`` gets."""
    port = int(node.url.rsplit(":", 1)[1])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as conn,
    ):
        der = conn.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


class OrderStream:
    """Posts orders one after another, each on a new connection (so each is a new handshake),
    until stopped; records what was acknowledged and anything that failed."""

    def __init__(self, node: RunningNode, context: ssl.SSLContext, prefix: str):
        self.acked: list[str] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._client = httpx.Client(
            base_url=node.url, verify=context, timeout=10, headers={"Connection": "close"}
        )
        self._prefix = prefix
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for i in itertools.count():
            if self._stop.is_set():
                return
            order_id = f"{self._prefix}-{i}"
            try:
                response = self._client.post("/order", json=seed_order(order_id))
            except httpx.HTTPError as exc:
                self.failures.append(f"{order_id}: {exc!r}")
                continue
            if response.status_code == 201:
                self.acked.append(order_id)
            else:
                self.failures.append(f"{order_id}: {response.status_code} {response.text}")

    def __enter__(self) -> OrderStream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)
        self._client.close()

    def wait_for(self, count: int) -> None:
        wait_until(lambda: len(self.acked) >= count or bool(self.failures), 60, what=f"{count}")


@pytest.fixture
def volume(tmp_path: Path, tls_files: TlsFiles) -> SecretVolume:
    """A Secret volume holding the fixture's node certificate."""
    secret = SecretVolume(tmp_path / "secret")
    secret.publish(tls_files.cert.read_bytes(), tls_files.key.read_bytes())
    return secret


def renewed(ca: CertificateAuthority, volume: SecretVolume) -> ServerPair:
    pair = ca.issue(("127.0.0.1",))
    volume.publish(pair.cert_pem, pair.key_pem)
    return pair


def test_a_renewed_certificate_is_served_without_dropping_an_order(
    node_factory: NodeFactory,
    tls_ca: CertificateAuthority,
    tls_files: TlsFiles,
    volume: SecretVolume,
) -> None:
    node = node_factory("HCM", env=volume.env(tls_files.ca_bundle))
    context = tls.ssl_context({envvars.ORDER_CA_BUNDLE: str(tls_files.ca_bundle)})
    first = served_serial(node, context)
    with httpx.Client(base_url=node.url, verify=context, timeout=10) as kept_open:
        assert kept_open.get("/health").status_code == 200  # a connection from before
        with OrderStream(node, context, "rot") as stream:
            stream.wait_for(20)
            before = len(stream.acked)
            pair = renewed(tls_ca, volume)
            assert pair.serial != first
            wait_until(
                lambda: served_serial(node, context) == pair.serial,
                SWAP_TIMEOUT,
                what="the renewed certificate on new handshakes",
            )
            stream.wait_for(before + 20)
        # The connection opened before the renewal keeps working (its session is unchanged).
        assert kept_open.get("/health").status_code == 200
        assert stream.failures == []
        for order_id in stream.acked:
            assert kept_open.get(f"/order/{order_id}").status_code == 200, order_id
        metrics = kept_open.get("/metrics").text
    assert 'warehouse_tls_reloads_total{outcome="loaded"} 1.0' in metrics
    assert 'warehouse_tls_reloads_total{outcome="refused"} 0.0' in metrics


def test_a_pair_that_does_not_match_is_refused_and_the_old_one_kept(
    node_factory: NodeFactory,
    tls_ca: CertificateAuthority,
    tls_files: TlsFiles,
    volume: SecretVolume,
) -> None:
    node = node_factory("HCM", env=volume.env(tls_files.ca_bundle))
    context = tls.ssl_context({envvars.ORDER_CA_BUNDLE: str(tls_files.ca_bundle)})
    first = served_serial(node, context)
    # A renewed certificate next to a key of another one (a half-finished renewal).
    stray = tls_ca.issue(("127.0.0.1",))
    volume.publish(stray.cert_pem, tls_files.other_key.read_bytes())
    wait_until(
        lambda: "TLS certificate refused" in node.log_path.read_text(),
        SWAP_TIMEOUT,
        what="the refusal in the node's log",
    )
    refusal = next(
        line for line in node.log_path.read_text().splitlines() if "TLS certificate refused" in line
    )
    assert "the key does not match the certificate" in refusal
    assert served_serial(node, context) == first
    with httpx.Client(base_url=node.url, verify=context, timeout=10) as http:
        assert http.post("/order", json=seed_order("kept-1")).status_code == 201
        # The finished renewal is then taken.
        pair = renewed(tls_ca, volume)
        wait_until(
            lambda: served_serial(node, context) == pair.serial, SWAP_TIMEOUT, what="renewal"
        )
        metrics = http.get("/metrics").text
    assert 'warehouse_tls_reloads_total{outcome="refused"} 1.0' in metrics
    assert 'warehouse_tls_reloads_total{outcome="loaded"} 1.0' in metrics


def test_a_follower_picks_up_a_renewed_certificate(
    node_factory: NodeFactory,
    tls_ca: CertificateAuthority,
    tls_files: TlsFiles,
    volume: SecretVolume,
    tmp_path: Path,
) -> None:
    replica = f"file://{tmp_path / 'replica'}"
    primary = node_factory("HN", env={"NODE_REPLICA_URL": replica})
    follower = node_factory(
        "HN",
        env={
            **volume.env(tls_files.ca_bundle),
            "NODE_REPLICA_URL": replica,
            "NODE_ROLE": "follower",
            "NODE_PRIMARY_URL": primary.url,
        },
    )
    assert follower.url.startswith("https://")
    context = tls.ssl_context({envvars.ORDER_CA_BUNDLE: str(tls_files.ca_bundle)})
    first = served_serial(follower, context)
    with primary.client() as writer:
        assert writer.post("/order", json=seed_order("fr-1", "HN")).status_code == 201
    pair = renewed(tls_ca, volume)
    assert pair.serial != first
    wait_until(
        lambda: served_serial(follower, context) == pair.serial, SWAP_TIMEOUT, what="renewal"
    )
    with httpx.Client(base_url=follower.url, verify=context, timeout=10) as http:
        wait_until(
            lambda: http.get("/order/fr-1").status_code == 200, 30, what="fr-1 on the follower"
        )
