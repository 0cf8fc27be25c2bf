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
from order_contracts.labels import DAG_ID
from order_contracts.regions import configured_regions
from order_contracts.routing import RoutingDocument

from .airflow import AirflowSettings, LocalAirflow, local_airflow
from .nodes import node_process
from .processes import ManagedProcess, console_script, free_port, wait_until
from .prometheus import ScrapeTarget, prometheus_available, prometheus_process, rules_with

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

    def restart_node(self, region: str, timeout: float = 60.0) -> float:
        """Start the node again on its data and port; seconds until routing says it is ready."""
        started = time.monotonic()
        self.nodes[region].start(ready_timeout=timeout)
        wait_until(lambda: self.region_ready(region), timeout, 0.05, f"{region} ready in routing")
        return time.monotonic() - started

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.node_token}"}


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
            stack.state_dir / "data" / region.lower(),
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
    stack.routing_url = f"http://127.0.0.1:{port}/routing.json"
    stack.routing = ManagedProcess(
        "routing source", argv, stack.log_dir / "routing-source.log", ready_url=stack.routing_url
    ).start(ready_timeout=30)
    wait_until(
        lambda: (
            (d := stack.routing_document()) is not None
            and len(d.ready_regions()) == len(stack.nodes)
        ),
        30,
        what="every region ready in the routing document",
    )


def start_prometheus(stack: LocalStack) -> None:
    """Prometheus scraping every node and the routing source with the chart's alert rules."""
    targets = [ScrapeTarget("warehouse", url, region) for region, url in stack.node_urls.items()]
    if stack.routing_url:
        targets.append(ScrapeTarget("routing-source", stack.routing_url.rsplit("/", 1)[0]))
    process, stack.prometheus_url = prometheus_process(
        targets, stack.state_dir / "prometheus", interval=SCRAPE_INTERVAL, rules=rules_with(None)
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
) -> Iterator[LocalStack]:
    """Start nodes, the routing source, Prometheus (when ``prometheus`` and the binary is
    installed) and (unless ``airflow=False``) PostgreSQL + Airflow.

    The node token is generated per run, so the demo runs with authentication on, as a cluster
    install does. ``step(title, log)`` wraps each stage, so the demo can say what it is doing
    and, when a stage fails, which log to read.
    """
    step = step or _silent_step
    state_dir = Path(state_dir).resolve()
    stack = LocalStack(state_dir=state_dir, node_token=secrets.token_urlsafe(24))
    regions = configured_regions()
    node_env = {
        envvars.NODE_API_TOKEN: stack.node_token,
        envvars.ORDER_REGIONS: ",".join(regions),
        envvars.LOG_LEVEL: os.environ.get(envvars.LOG_LEVEL, "INFO"),
    }
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(lambda: [p.stop() for p in stack.nodes.values()])
        with step(f"starting warehouse nodes {', '.join(regions)}", stack.log_dir):
            start_nodes(stack, regions, node_env)
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
