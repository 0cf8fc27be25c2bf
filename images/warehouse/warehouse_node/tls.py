"""The node's certificate pair, checked before serving (docs/tls.md).

uvicorn loads ``ssl_certfile``/``ssl_keyfile`` only once it starts and reports a missing file or
a key that does not match the certificate as a traceback; loading the pair here first turns
each of those into the node's usual one-line configuration error (exit 2).
"""

from __future__ import annotations

import ssl


def check_tls_pair(cert_file: str, key_file: str) -> None:
    """Raise ``ValueError`` (one line) unless both or neither are set and the pair loads."""
    if not cert_file and not key_file:
        return
    if not cert_file or not key_file:
        raise ValueError("NODE_TLS_CERT and NODE_TLS_KEY must be set together")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert_file, key_file)
    except FileNotFoundError as exc:
        raise ValueError(f"TLS file not found: {exc.filename}") from None
    # ssl.SSLError is an OSError: it goes first.
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        if "KEY_VALUES_MISMATCH" in str(exc):
            reason = "the key does not match the certificate"
        raise ValueError(f"NODE_TLS_CERT {cert_file} / NODE_TLS_KEY {key_file}: {reason}") from None
    except OSError as exc:
        raise ValueError(f"cannot read TLS files {cert_file}, {key_file}: {exc}") from None
