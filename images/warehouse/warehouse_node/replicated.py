"""A primary's replication parts, started and stopped around the app's lifespan.

Order matters: Litestream runs (and answers) before the node serves, so the first order's wait
has someone to ask; at shutdown the node drains, syncs once more, closes the database and only
then stops Litestream, whose own shutdown sync then has nothing left to send.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .litestream import (
    ControlClient,
    LitestreamError,
    Supervised,
    private_socket,
    replicate_argv,
    socket_path,
    write_config,
)
from .metrics import NodeMetrics
from .replication import Replicator
from .settings import NodeSettings

log = logging.getLogger("warehouse_node.replicated")

READY_TIMEOUT = 15.0


class PrimaryReplication:
    """Litestream (a child or a sidecar) and the :class:`Replicator` that talks to it."""

    def __init__(self, settings: NodeSettings, metrics: NodeMetrics):
        self.settings = settings
        child = settings.litestream == "child"
        self.socket: Path = (
            private_socket() if child and not settings.litestream_socket else socket_path(settings)
        )
        self.replicator = Replicator(
            ControlClient(self.socket, settings.replicated_db_path),
            settings.replication,
            settings.replication_timeout,
            on_sync=metrics.observe_sync,
        )
        self.child: Supervised | None = None
        if child:
            config = write_config(settings, self.socket)
            self.child = Supervised(
                "litestream", replicate_argv(settings, config), on_exit=self.replicator.failed
            )
        metrics.bind_replication(self.replicator)

    async def start(self) -> None:
        """Start the child (if ours) and wait for the socket; a Litestream that does not answer
        leaves the node up but ``degraded`` (sync mode refuses orders with 503 until it does)."""
        if self.child is not None:
            await self.child.start()
        try:
            await self.replicator.wait_ready(READY_TIMEOUT)
        except LitestreamError as exc:
            log.error("replication not ready; serving degraded", extra={"error": str(exc)})
            self.replicator.failed(str(exc))
        self.replicator.start_monitor()
        log.info(
            "replication started",
            extra={
                "replica": self.settings.replica_url,
                "mode": self.settings.replication,
                "litestream": self.settings.litestream,
                "socket": str(self.socket),
            },
        )

    async def final_sync(self) -> None:
        await self.replicator.flush()

    async def stop(self) -> None:
        await self.replicator.aclose()
        if self.child is not None:
            await self.child.stop(grace=float(self.settings.shutdown_grace) + 5.0)
