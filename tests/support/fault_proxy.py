"""A real HTTP proxy in front of a real warehouse node that misbehaves on purpose.

Tests put its URL in the routing document instead of the node's, then script what each
``POST /order`` gets, in order:

* ``"forward"`` — passed to the node, its answer returned;
* ``"500"`` / ``"409"`` / any status — answered by the proxy; the node never sees it. ``"503"``
  carries ``Retry-After: 1`` as the node's own "not stored, retry" does; ``"503-bare"`` has no
  ``Retry-After`` (what a load balancer in front of the node may answer);
* ``"forward_reset"`` — passed to the node (which stores the order), then the connection is
  dropped without an answer: the client cannot know the order was stored;
* ``"reset"`` — the connection is dropped without forwarding;
* ``"hang"`` — nothing is forwarded and nothing answered until the proxy stops (a frozen node:
  the connection is open, the client waits out its timeout);
* ``"forward_die"`` — like ``forward_reset``, then the proxy stops listening: every later
  connection is refused (a node that died mid-request, its order stored).

After the script, ``default`` applies. ``GET /health`` is forwarded until ``health_down_after``
POSTs have arrived, then answered 503 with the node's report marked ``down``. Everything else
is forwarded unchanged. ``posts`` records what each POST got.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

JSON = "application/json"


class FaultProxy:
    def __init__(
        self,
        target: str,
        script: Sequence[str] = (),
        default: str = "forward",
        health_down_after: int | None = None,
    ):
        self.target = target.rstrip("/")
        self.script = list(script)
        self.default = default
        self.health_down_after = health_down_after
        self.posts: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._client = httpx.Client(base_url=self.target, timeout=10.0)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def next_action(self) -> str:
        with self._lock:
            index = len(self.posts)
            action = self.script[index] if index < len(self.script) else self.default
            self.posts.append(action)
            return action

    def health_is_down(self) -> bool:
        with self._lock:
            return self.health_down_after is not None and len(self.posts) >= self.health_down_after

    def forward(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> httpx.Response:
        return self._client.request(method, path, content=body or None, headers=headers)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return  # keep test output quiet

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _headers(self) -> dict[str, str]:
                keep = ("content-type", "authorization")
                return {k: v for k, v in self.headers.items() if k.lower() in keep}

            def _send(
                self, status: int, body: bytes, content_type: str = JSON, retry_after: bool = False
            ) -> None:
                self.send_response(status)
                if retry_after:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _relay(self, response: httpx.Response) -> None:
                ctype = response.headers.get("content-type", "application/json")
                self._send(response.status_code, response.content, ctype)

            def _drop(self) -> None:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

            def do_GET(self) -> None:
                if self.path == "/health" and proxy.health_is_down():
                    report = proxy.forward("GET", "/health", b"", {}).json()
                    report["status"] = "down"
                    self._send(503, json.dumps(report).encode())
                    return
                self._relay(proxy.forward("GET", self.path, b"", self._headers()))

            def do_POST(self) -> None:
                body = self._body()
                action = proxy.next_action()
                if action == "forward":
                    self._relay(proxy.forward("POST", self.path, body, self._headers()))
                elif action == "forward_reset":
                    proxy.forward("POST", self.path, body, self._headers())
                    self._drop()
                elif action == "forward_die":
                    proxy.forward("POST", self.path, body, self._headers())
                    proxy.die()  # first: the client must not reconnect before the stop
                    self._drop()
                elif action == "reset":
                    self._drop()
                elif action == "hang":
                    proxy._stopping.wait()
                    self._drop()
                else:
                    detail = json.dumps({"detail": f"fault proxy: scripted {action}"})
                    status = int(action.removesuffix("-bare"))
                    retry_after = status == 503 and not action.endswith("-bare")
                    self._send(status, detail.encode(), retry_after=retry_after)

        return Handler

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def die(self) -> None:
        """Stop listening (from a handler thread: ``shutdown`` waits for the serve loop).

        The listening socket is shut down at once, so a connection made right after this is
        refused; otherwise the serve loop could still accept one before it notices the stop.
        """
        with contextlib.suppress(OSError):
            self._server.socket.shutdown(socket.SHUT_RDWR)

        def close() -> None:
            self._server.shutdown()
            self._server.server_close()

        threading.Thread(target=close, daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
