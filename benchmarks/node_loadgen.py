"""A closed-loop HTTP/1.1 keep-alive load generator: raw asyncio protocols on uvloop.

``python -m benchmarks.node_loadgen --port P --connections 32 --duration 8 --mode post``
prints one JSON object: requests completed in the measured window, non-2xx count, and latency
percentiles. Each connection sends its next request the moment the previous response is
complete. It is deliberately minimal (no HTTP library) so that one core of it can outrun one core
of the server: the benchmark must measure the server, not the client.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import time
from typing import Any

import uvloop

SEED_BODY = '{{"order_id":"{oid}","customer_name":"Nguyen Van A","region":"HCM"}}'


class Stats:
    def __init__(self, measure_from: float, measure_until: float):
        self.measure_from = measure_from
        self.measure_until = measure_until
        self.latencies: list[float] = []
        self.non_2xx = 0
        self.statuses: dict[int, int] = {}
        self.requests_sent = 0

    def record(self, started: float, finished: float, status: int) -> None:
        if self.measure_from <= started and finished <= self.measure_until:
            self.latencies.append(finished - started)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if not 200 <= status < 300:
                self.non_2xx += 1


class Connection(asyncio.Protocol):
    def __init__(self, make_request: Any, stats: Stats, stop_at: float, done: asyncio.Future[None]):
        self.make_request = make_request
        self.stats = stats
        self.stop_at = stop_at
        self.done = done
        self.buffer = b""
        self.started = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's own transport class
        self.send_next()

    def send_next(self) -> None:
        assert self.transport is not None
        now = time.perf_counter()
        if now >= self.stop_at:
            self.transport.close()
            return
        self.started = now
        self.stats.requests_sent += 1
        self.transport.write(self.make_request())

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            at = head.find(b"content-length:")
            length = 0
            if at >= 0:
                line_end = head.find(b"\r\n", at)
                length = int(head[at + 15 : line_end if line_end >= 0 else None])
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            status = int(self.buffer[9:12])
            self.buffer = self.buffer[total:]
            self.stats.record(self.started, time.perf_counter(), status)
            self.send_next()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


def request_factory(mode: str, port: int, prefix: str, worker: int, bulk: int = 1) -> Any:
    """Builds each next request: ``bulk`` mode sends ``POST /orders`` of ``bulk`` new orders;
    ``echo`` posts the same bytes as ``post`` to ``/echo`` (the bare server answers any path)."""
    host = f"127.0.0.1:{port}"
    if mode == "health":
        fixed = f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        return lambda: fixed
    counter = 0
    if mode == "bulk":
        bulk_head = f"POST /orders HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"

        def make_bulk() -> bytes:
            nonlocal counter
            orders = []
            for _ in range(bulk):
                counter += 1
                orders.append(SEED_BODY.format(oid=f"{prefix}-{worker}-{counter}"))
            body = '{"orders":[' + ",".join(orders) + "]}"
            return f"{bulk_head}Content-Length: {len(body)}\r\n\r\n{body}".encode()

        return make_bulk
    path = "/echo" if mode == "echo" else "/order"
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"

    def make() -> bytes:
        nonlocal counter
        counter += 1
        body = SEED_BODY.format(oid=f"{prefix}-{worker}-{counter}")
        return f"{head}Content-Length: {len(body)}\r\n\r\n{body}".encode()

    return make


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    begin = time.perf_counter()
    measure_from = begin + args.warmup
    stop_at = measure_from + args.duration
    stats = Stats(measure_from, stop_at)
    done = []
    for worker in range(args.connections):
        finished: asyncio.Future[None] = loop.create_future()
        make = request_factory(args.mode, args.port, args.prefix, worker, args.bulk)
        await loop.create_connection(
            functools.partial(Connection, make, stats, stop_at, finished), "127.0.0.1", args.port
        )
        done.append(finished)
    await asyncio.wait_for(asyncio.gather(*done), args.warmup + args.duration + 30)
    latencies = sorted(stats.latencies)
    count = len(latencies)
    return {
        "mode": args.mode,
        "bulk": args.bulk if args.mode == "bulk" else 1,
        "connections": args.connections,
        "seconds": args.duration,
        "requests": count,
        "rps": count / args.duration,
        "non_2xx": stats.non_2xx,
        "statuses": {str(k): v for k, v in sorted(stats.statuses.items())},
        "sent_total": stats.requests_sent,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": (latencies[-1] * 1000) if latencies else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="closed-loop keep-alive HTTP load")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=["post", "echo", "health", "bulk"], default="post")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--prefix", default="bench")
    parser.add_argument("--bulk", type=int, default=1000, help="orders per request (bulk mode)")
    args = parser.parse_args()
    print(json.dumps(uvloop.run(run(args))))


if __name__ == "__main__":
    main()
