"""The local routing source: what the controller does in a cluster, done by polling ``/health``.

With no Kubernetes there are no EndpointSlices, so readiness comes from each node's own health:
reachable and not ``down`` counts as one ready endpoint. The document is built by the same
``build_routing_document`` the controller uses, written atomically to a file (for
``ORDER_ROUTING_SOURCE=/path``) and served over HTTP (for ``ORDER_ROUTING_SOURCE=http://...``).
Every change is appended to a JSON-lines history so a test or the demo can prove the region
went not-ready and came back. Followers (``--follower REGION=URL``) are polled the same way; the
ones that answer and are not ``down`` become the region's ``readUrls``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from order_contracts import envvars, tls
from order_contracts.health import read_health_answer
from order_contracts.logs import configure_json_logging
from order_contracts.metrics import part_registry
from order_contracts.regions import Proximity, configured_proximity, normalize_region
from order_contracts.routing import RegionObservation, RoutingDocument, build_routing_document
from order_contracts.version import add_version_flag

log = logging.getLogger("routing-source")

#: a gray failure (SIGSTOP, a partition: TCP accepts, nothing answers) costs at most this plus
#: one poll interval before the region is marked not ready (issue 13's bar is 3 s)
PROBE_TIMEOUT_S = 1.0

#: a pass is one round of /health probes in parallel: bounded by the probe timeout
POLL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def probe_ready_endpoints(client: httpx.Client, url: str) -> int:
    """1 when the node answers ``/health`` and is not down, else 0 (503 bodies count as down)."""
    try:
        response = client.get(f"{url}/health")
    except httpx.HTTPError:
        return 0
    health = read_health_answer(response.status_code, response.content)
    return 1 if health is not None and health.accepts_orders else 0


class _RoutingCollector(Collector):
    """The published document at scrape time: what the DAG would read right now."""

    def __init__(self, source: LocalRoutingSource):
        self._source = source

    def collect(self):  # type: ignore[no-untyped-def]
        document = self._source.document
        ready = GaugeMetricFamily(
            "warehouse_routing_region_ready",
            "1 when the region's warehouse is ready in the published routing document, else 0",
            labels=["region"],
        )
        for region in self._source.nodes:
            state = document.regions.get(region) if document else None
            ready.add_metric([region], 1.0 if state is not None and state.ready else 0.0)
        yield ready
        yield GaugeMetricFamily(
            "warehouse_routing_generation",
            "generation of the published routing document (0: none yet)",
            value=document.generation if document else 0,
        )


class LocalRoutingSource:
    """Keeps a routing document true for nodes given as ``region → base URL``."""

    def __init__(
        self,
        nodes: dict[str, str],
        proximity: Proximity,
        out_path: Path,
        history_path: Path | None = None,
        timeout: float = PROBE_TIMEOUT_S,
        followers: dict[str, list[str]] | None = None,
    ):
        self.nodes = nodes
        self.followers = followers or {}
        self.proximity = proximity
        self.out_path = out_path
        self.history_path = history_path
        self.document: RoutingDocument | None = None
        # https:// nodes and followers are verified against ORDER_CA_BUNDLE (docs/tls.md).
        self._client = httpx.Client(timeout=timeout, verify=tls.httpx_verify())
        probes = len(nodes) + sum(len(urls) for urls in self.followers.values())
        self._pool = ThreadPoolExecutor(max_workers=max(1, probes))
        self._lock = threading.Lock()
        #: ``GET /metrics``: process metrics and per-region readiness (docs/observability.md)
        self.registry = part_registry()
        self.registry.register(_RoutingCollector(self))
        self.reconcile_seconds = Histogram(
            "warehouse_routing_reconcile_duration_seconds",
            "Time one pass (probe every node and follower, publish on change) took",
            buckets=POLL_BUCKETS,
            registry=self.registry,
        )

    def poll_once(self) -> RoutingDocument:
        """Probe every node and follower; publish a new document when readiness changed."""
        with self.reconcile_seconds.time():
            return self._poll()

    def _poll(self) -> RoutingDocument:
        regions = list(self.nodes)
        counts = self._pool.map(
            lambda r: probe_ready_endpoints(self._client, self.nodes[r]), regions
        )
        followers = [(r, url) for r in regions for url in self.followers.get(r, [])]
        serving = self._pool.map(lambda f: probe_ready_endpoints(self._client, f[1]), followers)
        reads: dict[str, list[str]] = {}
        for (region, url), up in zip(followers, serving, strict=True):
            if up:
                reads.setdefault(region, []).append(url)
        observations = [
            RegionObservation(r, self.nodes[r], n, tuple(reads.get(r, ())))
            for r, n in zip(regions, counts, strict=True)
        ]
        with self._lock:
            previous = self.document
            document = build_routing_document(observations, self.proximity, previous)
            if document is not previous:
                self._publish(previous, document)
            self.document = document
        return document

    def _publish(self, previous: RoutingDocument | None, document: RoutingDocument) -> None:
        tmp = self.out_path.with_suffix(".tmp")
        tmp.write_text(document.to_json())
        os.replace(tmp, self.out_path)  # readers never see a half-written document
        before = {r: v.ready for r, v in previous.regions.items()} if previous else {}
        after = {r: v.ready for r, v in document.regions.items()}
        log.info(
            "routing changed",
            extra={
                "generation": document.generation,
                "readiness": {r: f"{before.get(r, '-')}→{after[r]}" for r in after},
            },
        )
        if self.history_path:
            entry = {
                "at": datetime.now(UTC).isoformat(),
                "generation": document.generation,
                "ready": after,
            }
            with self.history_path.open("a") as history:
                history.write(json.dumps(entry) + "\n")

    def run(self, stop: threading.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception:  # a poll must never kill the source; the next one retries
                log.exception("routing poll failed")
            stop.wait(interval)

    def serve(
        self, host: str, port: int, tls_context: ssl.SSLContext | None = None
    ) -> ThreadingHTTPServer:
        """Serve ``/routing.json``, ``/health`` and ``/metrics``; over HTTPS with ``tls_context``.

        The listening socket is wrapped with the handshake deferred to the first read, which
        happens in the request's own thread: a client that connects and sends nothing (or plain
        HTTP) holds only its thread, never the accept loop.
        """
        source = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] in ("/routing.json", "/"):
                    document = source.document
                    body = document.to_json().encode() if document else b""
                    status = 200 if document else 503
                elif self.path == "/health":
                    body, status = b'{"status":"ok"}', 200
                elif self.path == "/metrics":
                    body = generate_latest(source.registry)
                    self.send_response(200)
                    self.send_header("Content-Type", CONTENT_TYPE_LATEST)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                else:
                    body, status = b'{"detail":"not found"}', 404
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return  # one line per routing change is the useful log; not one per GET

        server = ThreadingHTTPServer((host, port), Handler)
        if tls_context is not None:
            server.socket = tls_context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def close(self) -> None:
        self._client.close()
        self._pool.shutdown(wait=False)


def parse_node(text: str) -> tuple[str, str]:
    region, sep, url = text.partition("=")
    if not sep or not region or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"{text!r}: expected REGION=http://host:port")
    return normalize_region(region), url.rstrip("/")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="orders-routing-source",
        description="Keep a routing document true for local warehouse nodes (no cluster needed).",
    )
    add_version_flag(parser)
    parser.add_argument(
        "--node", action="append", type=parse_node, required=True, help="REGION=URL, once per node"
    )
    parser.add_argument(
        "--follower",
        action="append",
        type=parse_node,
        default=[],
        help="REGION=URL of a read-only follower, once per follower (its region's readUrls)",
    )
    parser.add_argument("--out", type=Path, required=True, help="routing.json to keep current")
    parser.add_argument("--history", type=Path, help="append every change as a JSON line")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="serve /routing.json (0: off)")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between polls")
    parser.add_argument(
        "--tls-cert",
        default=os.environ.get(envvars.ROUTING_TLS_CERT, ""),
        help=f"PEM certificate: serve HTTPS only (env {envvars.ROUTING_TLS_CERT}; empty: HTTP)",
    )
    parser.add_argument(
        "--tls-key",
        default=os.environ.get(envvars.ROUTING_TLS_KEY, ""),
        help=f"PEM key of --tls-cert (env {envvars.ROUTING_TLS_KEY})",
    )
    parser.add_argument(
        "--probe-timeout",
        type=float,
        default=PROBE_TIMEOUT_S,
        help="seconds a node has to answer /health before it counts as not ready: a frozen or "
        f"partitioned node accepts connections and never answers ({PROBE_TIMEOUT_S:g})",
    )
    args = parser.parse_args(argv)
    try:
        tls_context = tls.server_context(
            args.tls_cert, args.tls_key, envvars.ROUTING_TLS_CERT, envvars.ROUTING_TLS_KEY
        )
    except ValueError as exc:
        parser.error(str(exc))
    configure_json_logging()
    followers: dict[str, list[str]] = {}
    for region, url in args.follower:
        followers.setdefault(region, []).append(url)
    source = LocalRoutingSource(
        dict(args.node),
        configured_proximity(),
        args.out,
        args.history,
        timeout=args.probe_timeout,
        followers=followers,
    )
    source.poll_once()
    if args.port:
        source.serve(args.host, args.port, tls_context)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        source.run(stop, args.interval)
    except KeyboardInterrupt:
        pass
    finally:
        source.close()


if __name__ == "__main__":
    main()
