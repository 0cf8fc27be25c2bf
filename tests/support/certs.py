"""Throwaway certificates for TLS tests: the runtime generator of ``orders-demo --tls``
(:mod:`localmode.certs`), so tests and the demo make their files the same way."""

from localmode.certs import CertificateAuthority, ServerPair, TlsFiles, make_tls_files

__all__ = ["CertificateAuthority", "ServerPair", "TlsFiles", "make_tls_files"]
