"""Start warehouse nodes as real processes (local mode and tests)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from order_contracts.envvars import NODE_TLS_CERT_ALIASES

from .processes import ManagedProcess, console_script, free_port


def node_command() -> list[str]:
    return console_script("warehouse-node", "warehouse_node.cli")


def node_process(
    region: str,
    data_dir: Path,
    log_dir: Path,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    extra_args: list[str] | None = None,
    name: str = "node",
) -> tuple[ManagedProcess, str]:
    """A (not yet started) node for ``region`` and its base URL; ``name`` names its log
    (``LOG_DIR/<name>-<region>.log``), e.g. ``follower`` for a read follower."""
    port = port or free_port()
    # A node given a certificate serves HTTPS only (docs/tls.md).
    scheme = "https" if any((env or {}).get(name) for name in NODE_TLS_CERT_ALIASES) else "http"
    url = f"{scheme}://127.0.0.1:{port}"
    argv = [
        *node_command(),
        "--region",
        region,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        *(extra_args or []),
    ]
    process = ManagedProcess(
        f"warehouse-node {region}" if name == "node" else f"warehouse-node {region} ({name})",
        argv,
        log_dir / f"{name}-{region.lower()}.log",
        env=env,
        ready_url=f"{url}/health",
    )
    return process, url
