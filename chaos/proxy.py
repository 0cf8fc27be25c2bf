"""An in-path TCP proxy in front of one node: the network faults ``partition`` and ``slow``.

Every client of a node (the load, the routing source, the DAG's tasks) reaches it through its
proxy, because the routing document carries the proxy's address. The proxy is a separate
process (``python -m chaos.proxy``), so its own work never competes with the load generator's
event loop. It moves bytes, it does not parse HTTP; its modes, switched over a control port
(one line in, one line out), are:

* ``pass`` — bytes are forwarded as they come;
* ``drop`` — a partition: nothing moves in either direction, on open connections and on new
  ones (accepted, then held). Bytes already sent wait in the kernel's buffers and are delivered
  when the partition heals, as TCP's retransmissions would deliver them: a client that gave up
  may still have its order stored — exactly the in-doubt case the checker must account for;
* ``slow SECONDS`` — every chunk waits that long before it is forwarded, in both directions.

When the node itself refuses connections (killed), the proxy closes its listening socket too,
so clients see "connection refused" as they would without a proxy (proof that nothing was sent,
so rerouting stays safe), and opens it again once the node accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
from dataclasses import dataclass, field

CHUNK = 65536
#: how often a proxy whose node refused connections checks whether it is back
UPSTREAM_RETRY_S = 0.05


@dataclass
class ProxyState:
    mode: str = "pass"
    delay: float = 0.0
    open: asyncio.Event = field(default_factory=asyncio.Event)

    def set(self, command: str) -> str:
        """Apply one control line; the answer line (``ok MODE`` or ``error ...``)."""
        words = command.split()
        if words == ["pass"]:
            self.mode, self.delay = "pass", 0.0
        elif words == ["drop"]:
            self.mode = "drop"
        elif len(words) == 2 and words[0] == "slow":
            try:
                delay = float(words[1])
            except ValueError:
                return f"error {words[1]!r} is not a number of seconds"
            if delay < 0:
                return "error delay cannot be negative"
            self.mode, self.delay = "slow", delay
        elif words == ["status"]:
            pass
        else:
            return f"error unknown command {command.strip()!r}"
        if self.mode == "drop":
            self.open.clear()
        else:
            self.open.set()
        return f"ok {self.mode} {self.delay:g}"


class Proxy:
    def __init__(self, listen_port: int, target_host: str, target_port: int):
        self.listen_port = listen_port
        self.target = (target_host, target_port)
        self.state = ProxyState()
        self.state.open.set()
        self.server: asyncio.Server | None = None
        self._reopening: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(
            self._client, "127.0.0.1", self.listen_port, reuse_address=True
        )

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await self.state.open.wait()
                data = await reader.read(CHUNK)
                if not data:
                    break
                if self.state.delay:
                    await asyncio.sleep(self.state.delay)
                await self.state.open.wait()  # a partition that began meanwhile holds the chunk
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.state.open.wait()
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()  # reset: the client learns nothing reached the node
            self._node_refused()
            return
        with contextlib.suppress(Exception):
            sock = up_writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    def _node_refused(self) -> None:
        """Stop listening until the node accepts again: clients get "connection refused"."""
        if self.server is None or self._reopening is not None:
            return
        self.server.close()
        self._reopening = asyncio.get_running_loop().create_task(self._reopen())

    async def _reopen(self) -> None:
        while True:
            await asyncio.sleep(UPSTREAM_RETRY_S)
            try:
                _, probe = await asyncio.open_connection(*self.target)
            except OSError:
                continue
            probe.close()
            break
        while True:
            try:
                await self.start()
                break
            except OSError:  # the port is still held by closing connections: try again
                await asyncio.sleep(UPSTREAM_RETRY_S)
        self._reopening = None

    async def _control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while line := await reader.readline():
                writer.write((self.state.set(line.decode(errors="replace")) + "\n").encode())
                await writer.drain()
        writer.close()


async def serve(listen_port: int, target: str, control_port: int) -> None:
    host, _, port = target.rpartition(":")
    proxy = Proxy(listen_port, host or "127.0.0.1", int(port))
    await proxy.start()
    control = await asyncio.start_server(proxy._control, "127.0.0.1", control_port)
    async with control:
        await control.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chaos.proxy", description=__doc__)
    parser.add_argument("--listen", type=int, required=True, help="port clients connect to")
    parser.add_argument("--target", required=True, help="HOST:PORT of the node")
    parser.add_argument("--control", type=int, required=True, help="port of the control lines")
    args = parser.parse_args(argv)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard] on Linux
        asyncio.run(serve(args.listen, args.target, args.control))
    else:
        uvloop.run(serve(args.listen, args.target, args.control))


if __name__ == "__main__":
    main()
