"""The whole system on one machine: nodes, the routing source, PostgreSQL and Airflow.

The demo and the end-to-end test start the system through :class:`LocalStack`, so the test
checks exactly what a newcomer sees. Everything is started in ``state_dir`` (data, logs, the
routing document) and stopped again by leaving the ``with`` block — on success, on failure and
on Ctrl-C alike.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from order_contracts import envvars
from order_contracts.labels import COMPONENT_FOLLOWER, COMPONENT_WAREHOUSE, DAG_ID
from order_contracts.regions import configured_regions
from order_contracts.routing import RoutingDocument

from .airflow import AirflowSettings, LocalAirflow, local_airflow
from .certs import TlsFiles, make_tls_files
from .nodes import node_process
from .processes import ManagedProcess, console_script, free_port, wait_until
from .prometheus import ScrapeTarget, prometheus_available, prometheus_process, rules_with
from .replication import data_dir, empty_directory, replica_args_by_region, start_followers

ROUTING_POLL_INTERVAL = 0.25
#: how often the local Prometheus scrapes every node (a cluster: 30 s; the demo is short)
SCRAPE_INTERVAL = "2s"

#: ``step(title, log_path)`` → a context manager around one stage of start-up
StepReporter = Callable[[str, Path], AbstractContextManager[object]]


def _silent_step(title: str, log: Path) -> AbstractContextManager[object]:
    return contextlib.nullcontext()


@dataclass
class LocalStack:
    """Handles on everything that runs; built by :func:`local_stack`."""

    state_dir: Path
    node_token: str
    nodes: dict[str, ManagedProcess] = field(default_factory=dict)
    node_urls: dict[str, str] = field(default_factory=dict)
    #: with replication: every node streams to ``STATE/replica/<region>`` (sync acks), and one
    #: read follower per region follows that replica (docs/replication.md#local-mode)
    replication: bool = False
    #: the throwaway CA and the server pair every HTTPS hop uses (``local_stack(tls=True)``)
    tls: TlsFiles | None = None
    followers: dict[str, ManagedProcess] = field(default_factory=dict)
    follower_urls: dict[str, str] = field(default_factory=dict)
    routing: ManagedProcess | None = None
    routing_url: str = ""
    airflow: LocalAirflow | None = None
    prometheus: ManagedProcess | None = None
    prometheus_url: str = ""

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def routing_file(self) -> Path:
        return self.state_dir / "routing.json"

    @property
    def routing_history(self) -> Path:
        return self.state_dir / "routing-history.jsonl"

    def routing_document(self) -> RoutingDocument | None:
        try:
            return RoutingDocument.from_json(self.routing_file.read_text())
        except (OSError, ValueError):
            return None

    def region_ready(self, region: str) -> bool:
        document = self.routing_document()
        return document is not None and document.regions[region].ready

    def kill_node(self, region: str) -> None:
        """SIGKILL: no drain, no clean close — a crash."""
        self.nodes[region].kill()

    def data_dir(self, region: str) -> Path:
        return data_dir(self.state_dir, region)

    def lose_node_disk(self, region: str) -> None:
        """SIGKILL the node (Litestream, its child, dies with it), then delete everything in
        its data directory: the node and its disk are gone, only the replica is left."""
        self.kill_node(region)
        empty_directory(self.data_dir(region))

    def read_urls(self, region: str) -> list[str]:
        """The region's followers serving reads now, as the routing document says."""
        document = self.routing_document()
        route = document.regions.get(region) if document else None
        return list(route.read_urls) if route else []

    def restart_node(self, region: str, timeout: float = 60.0) -> float:
        """Start the node again on its data and port; seconds until routing says it is ready."""
        started = time.monotonic()
        self.nodes[region].start(ready_timeout=timeout)
        wait_until(lambda: self.region_ready(region), timeout, 0.05, f"{region} ready in routing")
        return time.monotonic() - started

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.node_token}"}


@contextlib.contextmanager
def environ_set(name: str, value: str) -> Iterator[None]:
    """``os.environ[name] = value`` while the block runs, then what it was: the clients this
    process makes (the stress tool, the demo's probes) and the processes it starts read it."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def start_nodes(
    stack: LocalStack,
    regions: tuple[str, ...],
    env: Mapping[str, str],
    extra_args: Mapping[str, list[str]] | None = None,
) -> None:
    """Boot one node per region on ``STATE/data/<region>``; ``extra_args`` per region (e.g.
    each its own ``--replica-url``)."""
    processes = {}
    for region in regions:
        process, url = node_process(
            region,
            data_dir(stack.state_dir, region),
            stack.log_dir,
            env=env,
            extra_args=(extra_args or {}).get(region),
        )
        processes[region], stack.node_urls[region] = process, url
        stack.nodes[region] = process
    for process in processes.values():  # boot in parallel, then wait for each
        ready_url, process.ready_url = process.ready_url, None
        process.start()
        process.ready_url = ready_url
    for process in processes.values():
        process.wait_ready(60)


def start_routing_source(stack: LocalStack) -> None:
    port = free_port()
    argv = [
        *console_script("orders-routing-source", "localmode.routing_source"),
        "--out",
        str(stack.routing_file),
        "--history",
        str(stack.routing_history),
        "--port",
        str(port),
        "--interval",
        str(ROUTING_POLL_INTERVAL),
    ]
    for region, url in stack.node_urls.items():
        argv += ["--node", f"{region}={url}"]
    for region, url in stack.follower_urls.items():
        argv += ["--follower", f"{region}={url}"]
    if stack.tls:
        argv += ["--tls-cert", str(stack.tls.cert), "--tls-key", str(stack.tls.key)]
    scheme = "https" if stack.tls else "http"
    stack.routing_url = f"{scheme}://127.0.0.1:{port}/routing.json"
    stack.routing = ManagedProcess(
        "routing source", argv, stack.log_dir / "routing-source.log", ready_url=stack.routing_url
    ).start(ready_timeout=30)
    wait_until(
        lambda: (
            (d := stack.routing_document()) is not None
            and len(d.ready_regions()) == len(stack.nodes)
            and all(stack.read_urls(region) for region in stack.follower_urls)
        ),
        30,
        what="every region ready (and its follower in readUrls) in the routing document",
    )


def start_replica_followers(stack: LocalStack, env: Mapping[str, str]) -> None:
    """One read follower per region, each once its primary has written the replica."""
    started = start_followers(stack.state_dir, stack.log_dir, env, stack.node_urls)
    for region, (process, url) in started.items():
        stack.followers[region], stack.follower_urls[region] = process, url


def start_prometheus(stack: LocalStack) -> None:
    """Prometheus scraping every node and the routing source with the chart's alert rules."""
    targets = [
        ScrapeTarget(COMPONENT_WAREHOUSE, url, region) for region, url in stack.node_urls.items()
    ]
    # the chart's follower Service label: alerts on the primaries' series never see these
    targets += [
        ScrapeTarget(COMPONENT_FOLLOWER, url, region) for region, url in stack.follower_urls.items()
    ]
    if stack.routing_url:
        targets.append(ScrapeTarget("routing-source", stack.routing_url.rsplit("/", 1)[0]))
    process, stack.prometheus_url = prometheus_process(
        targets,
        stack.state_dir / "prometheus",
        interval=SCRAPE_INTERVAL,
        rules=rules_with(None),
        ca_file=stack.tls.ca_bundle if stack.tls else None,
    )
    stack.prometheus = process.start(ready_timeout=30)


def dag_env(stack: LocalStack, retries: int, retry_delay_s: float) -> dict[str, str]:
    """What the DAG's tasks need to reach this stack's nodes (Airflow's extra environment)."""
    return {
        envvars.ORDER_ROUTING_SOURCE: str(stack.routing_file),
        envvars.NODE_API_TOKEN: stack.node_token,
        envvars.ORDER_REGIONS: ",".join(stack.nodes) or ",".join(configured_regions()),
        envvars.ORDER_PROCESS_RETRIES: str(retries),
        envvars.ORDER_RETRY_DELAY_SECONDS: str(retry_delay_s),
        **({envvars.ORDER_CA_BUNDLE: str(stack.tls.ca_bundle)} if stack.tls else {}),
    }


@contextlib.contextmanager
def local_stack(
    state_dir: Path,
    *,
    retry_delay_s: float = 8.0,
    retries: int = 3,
    airflow: bool = True,
    prometheus: bool = True,
    airflow_settings: AirflowSettings | None = None,
    step: StepReporter | None = None,
    replication: bool = False,
    tls: bool = False,
) -> Iterator[LocalStack]:
    """Start nodes, the routing source, Prometheus (when ``prometheus`` and the binary is
    installed) and (unless ``airflow=False``) PostgreSQL + Airflow.

    ``replication``: every node streams its shard to a ``file://`` replica and acknowledges
    only what it holds (sync), and a read follower per region serves reads from that replica
    (its URL in the region's ``readUrls``), also while the node is down.

    ``tls``: a throwaway CA and a certificate for 127.0.0.1 are made in ``STATE/tls``; nodes,
    followers and the routing source serve HTTPS only, and every client (this process's, the
    DAG's, Prometheus's) trusts that CA alone (``ORDER_CA_BUNDLE``, set in this process's
    environment while the stack runs), so a plain-HTTP URL anywhere is refused (docs/tls.md).

    The node token is generated per run, so the demo runs with authentication on, as a cluster
    install does. ``step(title, log)`` wraps each stage, so the demo can say what it is doing
    and, when a stage fails, which log to read.
    """
    step = step or _silent_step
    state_dir = Path(state_dir).resolve()
    stack = LocalStack(
        state_dir=state_dir, node_token=secrets.token_urlsafe(24), replication=replication
    )
    regions = configured_regions()
    node_env = {
        envvars.NODE_API_TOKEN: stack.node_token,
        envvars.ORDER_REGIONS: ",".join(regions),
        envvars.LOG_LEVEL: os.environ.get(envvars.LOG_LEVEL, "INFO"),
    }
    with contextlib.ExitStack() as cleanup:
        if tls:
            stack.tls = make_tls_files(state_dir / "tls", hosts=("127.0.0.1", "localhost"))
            node_env |= {
                envvars.NODE_TLS_CERT: str(stack.tls.cert),
                envvars.NODE_TLS_KEY: str(stack.tls.key),
                envvars.ORDER_CA_BUNDLE: str(stack.tls.ca_bundle),
            }
            cleanup.enter_context(environ_set(envvars.ORDER_CA_BUNDLE, str(stack.tls.ca_bundle)))
        cleanup.callback(lambda: [p.stop() for p in stack.nodes.values()])
        replicas = replica_args_by_region(state_dir, regions) if replication else None
        title = f"starting warehouse nodes {', '.join(regions)}"
        title += " (replicated)" if replication else ""
        title += " over HTTPS" if tls else ""
        with step(title, stack.log_dir):
            start_nodes(stack, regions, node_env, replicas)
        cleanup.callback(lambda: [p.stop() for p in stack.followers.values()])
        if replication:
            with step("starting a read follower per region", stack.log_dir):
                start_replica_followers(stack, node_env)
        cleanup.callback(lambda: stack.routing.stop() if stack.routing else None)
        with step("starting the routing source", stack.log_dir / "routing-source.log"):
            start_routing_source(stack)
        cleanup.callback(lambda: stack.prometheus.stop() if stack.prometheus else None)
        if prometheus and prometheus_available():
            with step("starting Prometheus", state_dir / "prometheus" / "prometheus.log"):
                start_prometheus(stack)
        if airflow:
            title = "starting PostgreSQL + Airflow (4 components, LocalExecutor)"
            with step(title, state_dir / "airflow" / "logs"):
                stack.airflow = cleanup.enter_context(
                    local_airflow(
                        state_dir / "airflow",
                        settings=airflow_settings,
                        extra_env=dag_env(stack, retries, retry_delay_s),
                        wait_for=(DAG_ID,),
                    )
                )
        yield stack
