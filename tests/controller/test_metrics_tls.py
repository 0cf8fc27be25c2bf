"""The controller's /metrics over HTTPS (CONTROLLER_TLS_CERT / CONTROLLER_TLS_KEY, docs/tls.md).

The real prometheus-client server the controller starts, a throwaway CA: what can fail is the
endpoint staying plain HTTP with a pair configured, answering a client that does not trust the
CA, or a bad pair getting past the configuration to fail later in a thread.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from controller.config import ControllerConfig
from controller.metrics import Metrics
from localmode.processes import free_port
from order_contracts import envvars, tls
from order_contracts.regions import ConfigError
from tests.support.certs import TlsFiles


def test_metrics_are_served_over_https_only_to_clients_that_trust_the_ca(
    tls_files: TlsFiles,
) -> None:
    config = ControllerConfig.from_env(
        {
            envvars.CONTROLLER_TLS_CERT: str(tls_files.cert),
            envvars.CONTROLLER_TLS_KEY: str(tls_files.key),
        }
    )
    metrics, port = Metrics(), free_port()
    metrics.serve(port, "127.0.0.1", config.metrics_tls_cert, config.metrics_tls_key)
    try:
        verify = tls.httpx_verify({envvars.ORDER_CA_BUNDLE: str(tls_files.ca_bundle)})
        answer = httpx.get(f"https://127.0.0.1:{port}/metrics", verify=verify, timeout=5)
        assert answer.status_code == 200 and "controller_" in answer.text
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"https://127.0.0.1:{port}/metrics", timeout=5)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    finally:
        metrics.shutdown()


def test_a_bad_pair_is_a_configuration_error_naming_the_variable(
    tls_files: TlsFiles, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="CONTROLLER_TLS_CERT and CONTROLLER_TLS_KEY"):
        ControllerConfig.from_env({envvars.CONTROLLER_TLS_CERT: str(tls_files.cert)})
    with pytest.raises(ConfigError, match="TLS file not found"):
        ControllerConfig.from_env(
            {
                envvars.CONTROLLER_TLS_CERT: str(tmp_path / "gone.crt"),
                envvars.CONTROLLER_TLS_KEY: str(tls_files.key),
            }
        )
