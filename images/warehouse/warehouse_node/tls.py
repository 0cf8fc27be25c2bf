"""The node's certificate pair: checked before serving, reloaded when renewed (docs/tls.md).

uvicorn loads ``ssl_certfile``/``ssl_keyfile`` only once it starts and reports a missing file or
a key that does not match the certificate as a traceback; loading the pair here first turns
each of those into the node's usual one-line configuration error (exit 2). Afterwards
:class:`TlsReloader` watches the files, so a renewed certificate (cert-manager rewriting the
Secret) is served without a restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path

from order_contracts import tls
from order_contracts.envvars import NODE_TLS_CERT, NODE_TLS_KEY

log = logging.getLogger("warehouse_node.tls")


def check_tls_pair(cert_file: str, key_file: str) -> None:
    """Raise ``ValueError`` (one line) unless both or neither are set and the pair loads."""
    tls.check_server_pair(cert_file, key_file, NODE_TLS_CERT, NODE_TLS_KEY)


#: a file's identity and content version: a renewal replaces the file (new inode, as a
#: Kubernetes Secret's symlink swap does) or rewrites it (new mtime or size)
FileStamp = tuple[int, int, int, int] | None


def stamp(path: str) -> FileStamp:
    """``(device, inode, mtime_ns, size)`` of ``path`` (symlinks followed), None if unreadable."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def leaf_fingerprint(cert_pem: bytes) -> str:
    """SHA-256 of the first certificate in ``cert_pem`` (what ``openssl x509 -fingerprint``
    prints), so a log line says which certificate is served without a parsing library."""
    text = cert_pem.decode("ascii", errors="replace")
    end = text.find("-----END CERTIFICATE-----")
    if end < 0:
        return ""
    first = text[: end + len("-----END CERTIFICATE-----")]
    try:
        der = ssl.PEM_cert_to_DER_cert(first[first.find("-----BEGIN CERTIFICATE-----") :])
    except ValueError:
        return ""
    return hashlib.sha256(der).hexdigest()


class TlsReloader:
    """Puts renewed certificate files into the live server context without a restart.

    uvicorn builds one ``SSLContext`` and wraps every new connection with it; loading a new
    pair into that same context changes the certificate of the handshakes that start after it,
    while connections already open keep theirs, so no request in flight is dropped. A pair that
    does not load (half-written, a key of another certificate) is refused with a log line and
    the one being served stays. :meth:`check` must run on the event loop's thread: handshakes
    start there, so none can see the context between the certificate and its key.
    """

    def __init__(
        self,
        context: ssl.SSLContext,
        cert_file: str,
        key_file: str,
        on_outcome: Callable[[str], None] | None = None,
    ):
        self.context = context
        self.cert_file, self.key_file = cert_file, key_file
        self._on_outcome = on_outcome or (lambda outcome: None)
        self._stamps = self._current()
        self.fingerprint = self._fingerprint_of_files()

    def _current(self) -> tuple[FileStamp, FileStamp]:
        return stamp(self.cert_file), stamp(self.key_file)

    def _fingerprint_of_files(self) -> str:
        try:
            return leaf_fingerprint(Path(self.cert_file).read_bytes())
        except OSError:
            return ""

    def check(self) -> str | None:
        """Reload if either file changed since the last check: ``"loaded"``, ``"refused"``,
        or None when nothing changed (each change is tried, and logged, once)."""
        stamps = self._current()
        if stamps == self._stamps:
            return None
        self._stamps = stamps
        outcome = self._reload()
        self._on_outcome(outcome)
        return outcome

    def _reload(self) -> str:
        try:
            cert_pem = Path(self.cert_file).read_bytes()
            key_pem = Path(self.key_file).read_bytes()
        except OSError as exc:
            return self._refused(f"cannot read: {exc}")
        # Both files are read once and loaded from a private copy, so the check and the live
        # load see the same bytes even if a renewal is still writing the originals.
        with tempfile.TemporaryDirectory(prefix="node-tls-") as scratch:
            cert, key = Path(scratch) / "tls.crt", Path(scratch) / "tls.key"
            cert.write_bytes(cert_pem)
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(key_pem)
            try:
                ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
            except ssl.SSLError as exc:
                reason = str(exc)
                if "KEY_VALUES_MISMATCH" in reason:
                    reason = "the key does not match the certificate"
                return self._refused(reason)
            except OSError as exc:
                return self._refused(str(exc))
            # Checked on a scratch context first: this load cannot fail half-way on bad input.
            self.context.load_cert_chain(cert, key)
        previous, self.fingerprint = self.fingerprint, leaf_fingerprint(cert_pem)
        log.info(
            "TLS certificate reloaded",
            extra={
                "cert_file": self.cert_file,
                "sha256": self.fingerprint,
                "previous_sha256": previous,
            },
        )
        return "loaded"

    def _refused(self, reason: str) -> str:
        log.error(
            "TLS certificate refused, still serving the previous one",
            extra={
                "cert_file": self.cert_file,
                "key_file": self.key_file,
                "reason": reason,
                "sha256": self.fingerprint,
            },
        )
        return "refused"

    async def run(self, interval: float) -> None:
        """Check every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                self.check()
            except Exception:  # a watcher that dies would silently stop renewals
                log.exception("TLS reload check failed")
