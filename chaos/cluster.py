"""What a campaign runs against: local mode's nodes, each behind its fault proxy, and the rest.

The nodes, the routing source and PostgreSQL + Airflow are started by local mode's own
functions (:mod:`localmode.stack`), so the campaign tortures what the demo runs. Two things
are added in the path: a TCP proxy per node (:mod:`chaos.proxy`; the routing document carries
its address, so every client goes through it) and, when ``disk-full`` is asked for, a small
tmpfs mounted on each node's data directory, so "the disk is full" is the kernel's ENOSPC and
not a flag inside the node.

Everything started or mounted is undone by leaving the ``with`` block, Ctrl-C included; faults
still injected at that moment are healed first (:class:`Restorer`), so no process is left
stopped and no disk left full.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from localmode.airflow import local_airflow
from localmode.processes import ManagedProcess, free_port, wait_until
from localmode.replication import replica_args_by_region
from localmode.stack import LocalStack, dag_env, start_nodes, start_routing_source
from order_contracts.regions import configured_regions


class ClusterError(RuntimeError):
    """The cluster could not be set up as asked (one line for the user)."""


class ProxyControl:
    """The control line of one node's proxy."""

    def __init__(self, port: int):
        self.port = port

    def send(self, command: str, timeout: float = 5.0) -> str:
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(command.encode() + b"\n")
            answer = sock.makefile().readline().strip()
        if not answer.startswith("ok"):
            raise ClusterError(f"proxy control {command!r}: {answer}")
        return answer


@dataclass
class Restorer:
    """Heals still pending, newest first: what Ctrl-C or a crash must undo before stopping."""

    pending: dict[int, Callable[[], object]] = field(default_factory=dict)
    _next: int = 0

    def push(self, heal: Callable[[], object]) -> int:
        self._next += 1
        self.pending[self._next] = heal
        return self._next

    def done(self, token: int) -> None:
        self.pending.pop(token, None)

    def restore_all(self) -> list[str]:
        """Run every pending heal; the errors, one line each (cleanup must go on regardless)."""
        errors = []
        for token in sorted(self.pending, reverse=True):
            heal = self.pending.pop(token)
            try:
                heal()
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
        return errors


@dataclass
class ChaosCluster:
    stack: LocalStack
    #: each node's own address (the checker reads shards here, never through a proxy)
    direct_urls: dict[str, str] = field(default_factory=dict)
    proxies: dict[str, ManagedProcess] = field(default_factory=dict)
    controls: dict[str, ProxyControl] = field(default_factory=dict)
    mounts: dict[str, Path] = field(default_factory=dict)
    restorer: Restorer = field(default_factory=Restorer)

    @property
    def regions(self) -> list[str]:
        return list(self.stack.nodes)

    def data_dir(self, region: str) -> Path:
        return self.stack.data_dir(region)

    def node(self, region: str) -> ManagedProcess:
        return self.stack.nodes[region]

    def signal_node(self, region: str, signum: signal.Signals) -> None:
        process = self.node(region)
        if process.pid is not None and process.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signum)

    def ensure_node_running(self, region: str, timeout: float = 60.0) -> bool:
        """Start the node again if it is not running (it may die of a fault); True if it was
        restarted."""
        process = self.node(region)
        if process.running():
            return False
        process.start(ready_timeout=timeout)
        return True


def mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        why = result.stderr.strip() or f"exit {result.returncode}"
        raise ClusterError(f"disk-full needs a small tmpfs on {path} (run as root): {why}")


def unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def start_proxy(cluster: ChaosCluster, region: str, log_dir: Path) -> str:
    """A proxy in front of ``region``'s node; its URL (what the routing document will carry)."""
    listen, control = free_port(), free_port()
    direct = cluster.direct_urls[region]
    target = direct.removeprefix("http://")
    url = f"http://127.0.0.1:{listen}"
    argv = [sys.executable, "-m", "chaos.proxy", "--listen", str(listen), "--target", target]
    argv += ["--control", str(control)]
    process = ManagedProcess(
        f"proxy {region}", argv, log_dir / f"proxy-{region.lower()}.log", ready_url=f"{url}/health"
    )
    process.start(ready_timeout=30)
    cluster.proxies[region] = process
    cluster.controls[region] = ProxyControl(control)
    return url


def unmount_all(cluster: ChaosCluster) -> None:
    for path in cluster.mounts.values():
        unmount(path)


@contextlib.contextmanager
def chaos_cluster(
    state_dir: Path,
    *,
    airflow: bool = False,
    tmpfs_size: str | None = None,
    node_env: dict[str, str] | None = None,
    retries: int = 3,
    retry_delay_s: float = 5.0,
    replication: bool = False,
) -> Iterator[ChaosCluster]:
    """Nodes behind proxies, the routing source on the proxies, optionally Airflow.

    ``tmpfs_size`` (e.g. ``"64m"``) mounts a tmpfs of that size on every node's data directory.
    ``replication`` gives every node a Litestream replica in ``STATE/replica/<region>`` (outside
    its data directory, so ``disk-loss`` leaves it), acknowledged in sync mode: the layout of
    :mod:`localmode.replication`, shared with the demo.
    """
    state_dir = Path(state_dir).resolve()
    stack = LocalStack(state_dir=state_dir, node_token=secrets.token_urlsafe(24))
    cluster = ChaosCluster(stack)
    regions = configured_regions()
    env = {
        "NODE_API_TOKEN": stack.node_token,
        "ORDER_REGIONS": ",".join(regions),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
    } | dict(node_env or {})
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(unmount_all, cluster)
        if tmpfs_size:
            for region in regions:
                path = stack.data_dir(region)
                mount_tmpfs(path, tmpfs_size)
                cluster.mounts[region] = path
        cleanup.callback(lambda: [p.stop() for p in stack.nodes.values()])
        replicas = replica_args_by_region(state_dir, regions) if replication else None
        start_nodes(stack, regions, env, replicas)
        cluster.direct_urls = dict(stack.node_urls)
        cleanup.callback(lambda: [p.stop(grace=2) for p in cluster.proxies.values()])
        for region in regions:
            stack.node_urls[region] = start_proxy(cluster, region, stack.log_dir)
        cleanup.callback(lambda: stack.routing.stop() if stack.routing else None)
        start_routing_source(stack)
        if airflow:
            stack.airflow = cleanup.enter_context(
                local_airflow(
                    state_dir / "airflow",
                    extra_env=dag_env(stack, retries, retry_delay_s),
                    wait_for=("order_workflow",),
                )
            )
        # Heals run before anything above is stopped (ExitStack unwinds last-in first-out).
        cleanup.callback(cluster.restorer.restore_all)
        yield cluster


def wait_region(cluster: ChaosCluster, region: str, ready: bool, timeout: float) -> None:
    wait_until(
        lambda: cluster.stack.region_ready(region) is ready,
        timeout,
        0.05,
        f"{region} {'ready' if ready else 'not ready'} in routing",
    )
