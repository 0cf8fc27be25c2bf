"""Slow clients (issue 16, part 5) on a real node, with real sockets sending a byte a second:
each is closed within the read bound while a normal client is served meanwhile; idle
keep-alive is bounded; connections over the cap are refused at once."""

from __future__ import annotations

import json
import socket
import threading
import time
from urllib.parse import urlsplit

from tests.conftest import NodeFactory
from tests.node.conftest import seed_order

READ_TIMEOUT = 3.0
SLACK = 3.0  # the sweep runs once a second; the machine is shared and busy


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    sock.settimeout(30)
    return sock


def _trickle(sock: socket.socket, data: bytes, closed: dict[str, float], started: float) -> None:
    """Send ``data`` a byte a second until the node closes the socket; note when it did."""
    try:
        for byte in data:
            sock.sendall(bytes([byte]))
            time.sleep(1.0)
            sock.setblocking(False)
            try:
                got = sock.recv(4096)
            except BlockingIOError:
                got = None
            finally:
                sock.setblocking(True)
            if got is not None:
                closed["at"] = time.monotonic() - started
                closed["reply"] = float(b" 408 " in got)
                return
        closed["at"] = -1.0  # sent everything: never closed
    except OSError:  # reset or broken pipe: closed by the node
        closed["at"] = time.monotonic() - started


def _body() -> bytes:
    return json.dumps(seed_order("slow-body")).encode()


SLOW_HEADERS = (
    b"POST /order HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Pad: "
    + b"a" * 60
    + b"\r\n\r\n"
)


def test_slow_clients_are_closed_within_the_bound_while_others_are_served(
    node_factory: NodeFactory,
) -> None:
    node = node_factory("HCM", env={"NODE_REQUEST_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT)})
    results: dict[str, dict[str, float]] = {}
    threads = []
    for kind in ("headers", "body", "silent"):
        for i in range(3):
            name = f"{kind}-{i}"
            sock = _connect(node.url)
            started = time.monotonic()
            results[name] = {}
            if kind == "body":
                body = _body()
                sock.sendall(
                    b"POST /order HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                )
                data = body
            elif kind == "headers":
                data = SLOW_HEADERS
            else:
                data = b""
            if data:
                thread = threading.Thread(
                    target=_trickle, args=(sock, data, results[name], started), daemon=True
                )
            else:
                thread = threading.Thread(
                    target=_wait_closed, args=(sock, results[name], started), daemon=True
                )
            thread.start()
            threads.append(thread)

    # Meanwhile a normal client is served, and fast.
    with node.client() as http:
        for n in range(20):
            begun = time.monotonic()
            response = http.post("/order", json=seed_order(f"normal-{n}"))
            assert response.status_code == 201, response.text
            assert time.monotonic() - begun < 2.0
            time.sleep(0.1)
    for thread in threads:
        thread.join(timeout=READ_TIMEOUT + SLACK + 30)
    for name, result in results.items():
        assert result.get("at", -1.0) > 0, f"{name} was never closed: {result}"
        assert READ_TIMEOUT - 0.5 <= result["at"] <= READ_TIMEOUT + SLACK, (name, result)
    assert all(results[f"headers-{i}"].get("reply") == 1.0 for i in range(3)), results
    with node.client() as http:
        assert http.get("/order/slow-body").status_code == 404  # a cut body stores nothing
        assert http.get("/health").json()["status"] == "ok"
    log = node.log_path.read_text()
    assert "slow or surplus connections closed" in log
    assert "unhandled error" not in log


def _wait_closed(sock: socket.socket, closed: dict[str, float], started: float) -> None:
    try:
        got = sock.recv(4096)
        closed["reply"] = float(b" 408 " in got)
    except OSError:
        pass
    closed["at"] = time.monotonic() - started


def test_idle_keep_alive_is_bounded(node_factory: NodeFactory) -> None:
    node = node_factory("HCM", env={"NODE_KEEP_ALIVE_SECONDS": "1"})
    sock = _connect(node.url)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    answered = time.monotonic()
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 200")
    while sock.recv(4096):  # the rest of the body, then the close
        pass
    assert time.monotonic() - answered <= 1.0 + SLACK


def test_connections_over_the_cap_get_503_at_once(node_factory: NodeFactory) -> None:
    node = node_factory("HCM", env={"NODE_MAX_CONNECTIONS": "5"})
    held = [_connect(node.url) for _ in range(5)]
    try:
        time.sleep(0.5)  # let the node accept them all
        extra = _connect(node.url)
        begun = time.monotonic()
        reply = b""
        while chunk := extra.recv(4096):
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 503"), reply
        assert b"retry-after: 1" in reply.lower() and b"5 open connections" in reply
        assert time.monotonic() - begun < 2.0
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10
    while True:  # once they are gone, clients are served again
        with node.client() as http:
            if http.get("/health").status_code == 200:
                break
        assert time.monotonic() < deadline
        time.sleep(0.2)
