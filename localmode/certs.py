"""Throwaway certificates: a CA, and server certificates it signs (docs/tls.md).

``orders-demo --tls`` and the TLS tests both need real X.509 files (so uvicorn and the clients'
ssl contexts verify exactly as they do in a cluster), and neither wants openssl command lines:
``cryptography`` makes them here, once. Nothing here is fit for production keys: the CA's key
lives only in memory and the certificates last a day by default.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: the names a local stack's nodes and routing source are reached by
LOCAL_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the CA bundle clients trust, and the server's certificate and key."""

    ca_bundle: Path
    cert: Path
    key: Path
    #: a valid key that belongs to no certificate here (the "key does not match" case)
    other_key: Path


@dataclass(frozen=True)
class ServerPair:
    """One issued certificate (PEM) and its private key (PEM, unencrypted)."""

    cert_pem: bytes
    key_pem: bytes
    serial: int

    def write(self, cert: Path, key: Path) -> None:
        """Write both files; the key is readable by its owner only."""
        cert.write_bytes(self.cert_pem)
        write_private(key, self.key_pem)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_private(path: Path, data: bytes) -> Path:
    """``data`` at ``path`` with mode 0600 from the first byte (never world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san(host: str) -> x509.GeneralName:
    """An IP SAN for an address, a DNS SAN for a name (clients verify whichever they dial)."""
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


class CertificateAuthority:
    """A self-signed CA kept in memory; :meth:`issue` signs server certificates."""

    def __init__(self, name: str = "orders throwaway CA", days: float = 1.0):
        self._days = days
        self._key = _key()
        start, end = self._validity()
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )

    def _validity(self) -> tuple[datetime.datetime, datetime.datetime]:
        # Five minutes back: a client whose clock is slightly behind still accepts it.
        now = datetime.datetime.now(datetime.UTC)
        return now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=self._days)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, hosts: Sequence[str] = LOCAL_HOSTS) -> ServerPair:
        """A server certificate for ``hosts`` (SANs; the first is the common name)."""
        if not hosts:
            raise ValueError("a server certificate needs at least one host name or address")
        key = _key()
        start, end = self._validity()
        serial = x509.random_serial_number()
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(hosts[0]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(
                x509.SubjectAlternativeName([_san(host) for host in hosts]), critical=False
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        return ServerPair(cert.public_bytes(serialization.Encoding.PEM), key_pem(key), serial)


def make_tls_files(
    directory: Path, hosts: Sequence[str] = ("127.0.0.1",), ca: CertificateAuthority | None = None
) -> TlsFiles:
    """A CA bundle (``ca.pem``) and a server pair (``node.pem``, ``node-key.pem``) for
    ``hosts`` in ``directory``, plus a stray key (``other-key.pem``)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = ca or CertificateAuthority()
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca.cert_pem)
    files = TlsFiles(
        ca_bundle=ca_path,
        cert=directory / "node.pem",
        key=directory / "node-key.pem",
        other_key=write_private(directory / "other-key.pem", key_pem(_key())),
    )
    ca.issue(hosts).write(files.cert, files.key)
    return files
