"""``warehouse-node``: read settings (environment, then flags), check the database, serve.

``warehouse-node --region HCM --port 8001 --data-dir ./data/hcm``. Configuration problems end
with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from order_contracts import envvars
from order_contracts.version import add_version_flag

from .app import create_app
from .integrity import (
    DatabaseRefused,
    NothingToRestore,
    Restore,
    Verdict,
    record_shard,
    verify_at_start,
)
from .litestream import config_text
from .logs import configure_logging
from .restore import RestoreError, RestoreOutcome, restore_if_missing
from .settings import NodeSettings
from .slow_clients import guarded_protocol
from .store import OrderStore, StoreError
from .tls import TlsReloader

SWITCH_INTERVAL_SECONDS = 0.0005
log = logging.getLogger("warehouse_node.cli")

# flag -> environment variable it overrides (the settings' alias).
FLAGS: dict[str, tuple[str, type, str]] = {
    "region": (envvars.NODE_REGION, str, "this warehouse's region (required)"),
    "data_dir": ("DATA_DIR", str, "directory of orders.db (default ./data)"),
    "host": ("HOST", str, "listen address (default 0.0.0.0)"),
    "port": ("PORT", int, "listen port (default 8000)"),
    "log_level": ("LOG_LEVEL", str, "DEBUG, INFO, WARNING or ERROR (default INFO)"),
    "max_in_flight": ("NODE_MAX_IN_FLIGHT", int, "in-flight requests at load 1 (default 128)"),
    "max_rps": ("NODE_MAX_RPS", float, "requests/s at load 1 (default 4000)"),
    "bulk_order_weight": (
        "NODE_BULK_ORDER_WEIGHT",
        float,
        "share of a request that one order of a POST /orders adds to the rate (default 0.1)",
    ),
    "synchronous": ("NODE_SYNCHRONOUS", str, "SQLite synchronous: FULL or NORMAL (default FULL)"),
    "shutdown_grace": ("NODE_SHUTDOWN_GRACE", int, "seconds to drain on SIGTERM (default 10)"),
    "replica_url": (
        "NODE_REPLICA_URL",
        str,
        "Litestream replica: file:///dir or s3://bucket/path (default empty: no replication)",
    ),
    "replication": ("NODE_REPLICATION", str, "sync or async acknowledgements (default sync)"),
    "role": ("NODE_ROLE", str, "primary, or follower: a read-only copy of the replica"),
    "primary_url": ("NODE_PRIMARY_URL", str, "a follower names it when it refuses writes"),
    "quick_check_seconds": (
        "NODE_QUICK_CHECK_SECONDS",
        float,
        "bound on the start-up PRAGMA quick_check (default 120; 0 skips it)",
    ),
    "tls_cert": (
        envvars.NODE_TLS_CERT,
        str,
        "PEM certificate chain: serve HTTPS only (with --tls-key; default empty: HTTP)",
    ),
    "tls_key": (envvars.NODE_TLS_KEY, str, "PEM private key of --tls-cert"),
    "tls_reload_interval": (
        "NODE_TLS_RELOAD_INTERVAL",
        float,
        "seconds between checks for renewed --tls-cert/--tls-key files (default 10; 0: never)",
    ),
}
# older spellings of a flag, still accepted (docs/tls.md)
FLAG_ALIASES: dict[str, tuple[str, ...]] = {
    "tls_cert": ("--tls-cert-file",),
    "tls_key": ("--tls-key-file",),
}


def parse_args(argv: Sequence[str] | None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="warehouse-node",
        description="One region's warehouse order shard. Flags override environment variables; "
        "NODE_API_TOKEN is environment-only (a flag would show it in `ps`).",
    )
    add_version_flag(parser)
    for name, (env, kind, help_text) in FLAGS.items():
        flags = (f"--{name.replace('_', '-')}", *FLAG_ALIASES.get(name, ()))
        parser.add_argument(*flags, dest=name, type=kind, help=f"{help_text} [{env}]")
    parser.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="log every request (default off) [NODE_ACCESS_LOG]",
    )
    parser.add_argument(
        "--print-litestream-config",
        action="store_true",
        help="print the Litestream config of this node (for a sidecar) and exit",
    )
    parser.add_argument(
        "--restore-only",
        action="store_true",
        help="restore the database from the replica if it is missing (never overwrite), exit",
    )
    parser.add_argument(
        "--check-only",
        action="store_true",
        help="run the start-up database verdict and exit: a missing or damaged database is "
        "restored from the replica (a damaged one set aside first), a refused one is one line",
    )
    args = vars(parser.parse_args(argv))
    overrides = {FLAGS[k][0]: v for k, v in args.items() if k in FLAGS and v is not None}
    if args["access_log"] is not None:
        overrides["NODE_ACCESS_LOG"] = args["access_log"]
    for action in ("print_litestream_config", "restore_only", "check_only"):
        if args[action]:
            overrides[f"__{action}"] = True
    return overrides


def fail(message: str) -> NoReturn:
    """A configuration problem: one line on stderr, exit status 2, no traceback."""
    print(f"warehouse-node: {message}", file=sys.stderr)
    raise SystemExit(2)


def load_settings(overrides: dict[str, Any]) -> NodeSettings:
    try:
        return NodeSettings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            where = ".".join(str(p) for p in error["loc"])  # the environment variable's name
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where else message)
        fail(f"invalid configuration: {'; '.join(problems)}")


class NodeServer(uvicorn.Server):
    """uvicorn, plus: on SIGTERM/SIGINT the node reports ``down`` at once, so routers stop
    sending it orders while uvicorn drains the requests already in flight; with TLS, renewed
    certificate files are loaded into the live context (tls.TlsReloader)."""

    def __init__(self, config: uvicorn.Config, app: FastAPI, settings: NodeSettings):
        super().__init__(config)
        self.node_app = app
        self.settings = settings
        self.tls_watch: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        s = self.settings
        if self.config.ssl is not None and s.tls_reload_interval > 0:
            reloads = self.node_app.state.node.metrics.tls_reloads
            reloader = TlsReloader(
                self.config.ssl,
                s.tls_cert_file,
                s.tls_key_file,
                on_outcome=lambda outcome: reloads.labels(outcome=outcome).inc(),
            )
            self.tls_watch = asyncio.create_task(
                reloader.run(s.tls_reload_interval), name="tls-reload"
            )

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.tls_watch is not None:
            self.tls_watch.cancel()
        await super().shutdown(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.node_app.state.draining = True
        super().handle_exit(sig, frame)


def serve(app: FastAPI, settings: NodeSettings) -> None:
    """Run ``app`` the way every node runs: uvloop + httptools, JSON logs, graceful drain.
    Benchmarks reuse this so their baselines run the very same server stack."""
    # The group-commit thread needs the GIL back after each fsync; by default a busy event loop
    # makes it wait up to 5 ms, which becomes the floor of every commit and so of latency.
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        # httptools, with a read deadline and a connection cap (slow_clients.py).
        http=guarded_protocol(settings.request_read_timeout, settings.max_connections),
        timeout_keep_alive=settings.keep_alive_seconds,
        log_config=None,
        access_log=settings.access_log,
        server_header=False,
        # Nodes are reached directly or through an L4 Service: no X-Forwarded-* to trust.
        proxy_headers=False,
        timeout_graceful_shutdown=settings.shutdown_grace,
        backlog=2048,
        # Checked at settings time (tls.check_tls_pair); uvicorn loads the same pair.
        ssl_certfile=settings.tls_cert_file or None,
        ssl_keyfile=settings.tls_key_file or None,
    )
    NodeServer(config, app, settings).run()


def preflight(settings: NodeSettings, restore: Restore | None = None) -> Verdict:
    """Decide whether the database may be served (integrity.verify_at_start), then open and
    migrate it once and record whose shard it is: every refusal is a one-line error.

    ``restore`` is the replica restore hook (docs/storage-integrity.md): with it, a missing or
    damaged database is set aside and replaced from the replica instead of refused.
    """
    try:
        verdict = verify_at_start(
            settings.db_path,
            settings.region,
            restore=restore,
            quick_check_seconds=settings.quick_check_seconds,
        )
        OrderStore(settings.db_path, settings.synchronous).open().close()
        record_shard(settings.db_path, settings.region)
    except (StoreError, DatabaseRefused) as exc:
        fail(str(exc))
    except (OSError, sqlite3.Error) as exc:
        fail(f"cannot prepare the order database {settings.db_path}: {exc}")
    log.info(
        "database verdict",
        extra={
            "outcome": verdict.outcome,
            "path": str(verdict.path),
            "quick_check_seconds": round(verdict.quick_check_seconds, 3),
            "quick_check_complete": verdict.quick_check_complete,
        },
    )
    return verdict


def restore_or_fail(settings: NodeSettings) -> RestoreOutcome:
    """Restore a missing database from the replica; a failure ends the start with one line."""
    try:
        return restore_if_missing(settings)
    except (RestoreError, OSError) as exc:
        fail(str(exc))


def replica_restore(settings: NodeSettings) -> Restore:
    """The start-up verdict's restore hook: a damaged database (already set aside) is replaced
    from the replica the same way a missing one is (``restore_if_missing``)."""

    def restore(db_path: Path, reason: str) -> None:
        if restore_if_missing(settings).outcome != "restored":
            raise NothingToRestore(f"the replica {settings.replica_url} holds no copy")

    return restore


def main(argv: Sequence[str] | None = None) -> int:
    overrides = parse_args(argv)
    print_config = overrides.pop("__print_litestream_config", False)
    restore_only = overrides.pop("__restore_only", False)
    check_only = overrides.pop("__check_only", False)
    settings = load_settings(overrides)
    if print_config:
        if not settings.replica_url:
            fail("--print-litestream-config needs NODE_REPLICA_URL / --replica-url")
        sys.stdout.write(config_text(settings))
        return 0
    configure_logging(settings.log_level, settings.region)
    if restore_only:
        if not settings.replica_url:
            fail("--restore-only needs NODE_REPLICA_URL / --replica-url")
        restore_or_fail(settings)
        return 0
    if check_only:
        # The chart's init container: the verdict runs before the Litestream sidecar starts,
        # so the sidecar never streams a damaged or foreign file over a good replica.
        if settings.role != "primary":
            fail("--check-only is for a primary (a follower has no database of its own)")
        preflight(settings, replica_restore(settings) if settings.replicated else None)
        return 0
    if settings.role == "primary":
        # With a replica, the start-up verdict restores a missing or damaged database from it
        # (set aside first, never overwritten); a failed restore is one line and exit 2.
        preflight(settings, replica_restore(settings) if settings.replicated else None)
    # A follower has no database of its own to check: Litestream restores it once serving.
    serve(create_app(settings), settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
