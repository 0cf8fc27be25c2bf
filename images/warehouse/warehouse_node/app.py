"""The FastAPI application factory: routers, dependencies' state, middleware, lifespan."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from . import __version__
from .deps import Node
from .errors import install_error_handlers
from .fastpath import OrderFastPath, order_route
from .follower import FollowerReplication, FollowerStore
from .load import LoadTracker
from .metrics import NodeMetrics
from .middleware import BodyLimit, Instrumentation, TraceContext
from .openapi import install_openapi
from .replicated import PrimaryReplication
from .routers import bulk, health, metrics, orders
from .settings import NodeSettings
from .store import OrderStore

log = logging.getLogger("warehouse_node.app")


async def watch_file(store: OrderStore, interval: float) -> None:
    """Between group commits nothing else looks: an idle node must notice a removed or replaced
    database too, so routing stops sending it orders (health turns ``down``)."""
    while True:
        if store.check_file() is not None:
            return
        await asyncio.sleep(interval)


def create_app(
    settings: NodeSettings, store: OrderStore | None = None, fast_path: bool = True
) -> FastAPI:
    """A node app for ``settings``. ``store`` replaces the SQLite store (benchmarks' baselines);
    ``fast_path=False`` leaves ``POST /order`` to FastAPI's routing (the benchmark's before).

    The store is opened by the lifespan, not here, so building an app has no side effects.
    """
    node_metrics = NodeMetrics(settings.region, __version__, home_regions=settings.regions)
    replication = (
        PrimaryReplication(settings, node_metrics)
        if settings.replicated and settings.role == "primary"
        else None
    )
    replicator = replication.replicator if replication else None
    follower: FollowerReplication | None = None
    if settings.role == "follower" and store is None:
        store = FollowerStore(settings.db_path)
        follower = FollowerReplication(settings, store)
        node_metrics.bind_replication(follower)
    store = store or OrderStore(
        settings.db_path,
        settings.synchronous,
        settings.max_batch,
        on_commit=node_metrics.observe_commit,
        committed=replicator.committed if replicator else None,
        confirm=replicator.confirm if replicator and settings.sync_acks else None,
        probe_interval=settings.write_probe_interval,
        checkpoints=replicator is None,  # a replicated WAL is Litestream's to checkpoint
    )
    node_metrics.bind_store(
        lambda: store.count, store.size_bytes, lambda: (store.commits, store.committed_rows)
    )
    node_metrics.bind_read_failures(lambda: store.read_failures)
    load = LoadTracker(settings.max_in_flight, settings.max_rps)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        watchdog: asyncio.Task[None] | None = None
        if follower is not None:
            await follower.start()  # the store opens once the replica is restored
        else:
            store.open()
            # A follower's file is Litestream's to replace; only a primary's must stay put.
            watchdog = asyncio.create_task(
                watch_file(store, settings.file_check_seconds), name="database-file-watch"
            )
        if replication is not None:
            await replication.start()
        # Everything allocated so far lives as long as the process: keep it out of the cyclic
        # GC's full collections, which otherwise walk it again and again (latency spikes).
        gc.freeze()
        app.state.draining = False
        log.info(
            "node started",
            extra={"region": settings.region, "port": settings.port, "orders": store.count},
        )
        try:
            yield
        finally:
            # uvicorn has already drained in-flight requests; commit what is queued and close.
            app.state.draining = True
            if watchdog is not None:
                watchdog.cancel()
            await store.aclose(replication.final_sync if replication else None)
            if replication is not None:
                await replication.stop()
            if follower is not None:
                await follower.stop()
            log.info("node stopped", extra={"region": settings.region})

    app = FastAPI(
        title=f"warehouse node {settings.region}",
        version=__version__,
        lifespan=lifespan,
        description="One region's order shard: idempotent order intake on a durable SQLite file.",
    )
    app.state.node = Node(
        settings=settings,
        regions=settings.regions,
        store=store,
        load=load,
        metrics=node_metrics,
        token=settings.api_token.encode(),
        replicator=replicator,
        follower=follower,
    )
    app.state.draining = True  # until the lifespan has opened the store
    app.include_router(orders.router)
    app.include_router(bulk.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    install_error_handlers(app)
    install_openapi(app, settings.regions, settings.max_bulk)
    if fast_path:  # innermost: behind the body limit and the instrumentation
        app.add_middleware(OrderFastPath, route=order_route(app))
    # The last added runs first: instrumentation sees every response, 413s included.
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        routes={("POST", "/orders"): settings.max_bulk_body_bytes},
    )
    app.add_middleware(Instrumentation, load=load, metrics=node_metrics)
    app.add_middleware(TraceContext)  # outermost: every log line of the request has the ids
    return app
