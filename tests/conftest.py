"""Shared fixtures: real ``warehouse-node`` processes on 127.0.0.1, started and stopped per test.

Every part's tests (node, DAG, stress tool, local mode) talk to the same real node processes,
started through ``localmode.nodes.node_process`` so the tests run exactly what the demo runs.
Nothing here is specific to Airflow or kopf.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from localmode.nodes import node_process
from localmode.processes import ManagedProcess
from order_contracts import envvars
from tests.support.certs import CertificateAuthority, TlsFiles, make_tls_files

REGIONS = ("HCM", "HN", "DN")
READY_TIMEOUT = 60.0

# The parent environment must not leak into test nodes: an exported NODE_API_TOKEN or
# DATA_DIR on a developer's machine would otherwise change what a test sees.
BASE_NODE_ENV: dict[str, str] = {
    "NODE_API_TOKEN": "",
    "LOG_LEVEL": "INFO",
    "ORDER_REGIONS": ",".join(REGIONS),
}


@dataclass
class RunningNode:
    """A node process started for one test; ``process.kill()`` / ``process.start()`` restart it
    on the same ``data_dir`` and port."""

    region: str
    url: str
    process: ManagedProcess
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    def client(self, token: str | None = None, timeout: float = 10.0) -> httpx.Client:
        """An httpx client for this node (with a bearer token when given); close it after use."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def restart(self, ready_timeout: float = READY_TIMEOUT) -> None:
        """kill -9 and start again on the same port and data: a crash and a recovery."""
        self.process.kill()
        self.process.start(ready_timeout)


NodeFactory = Callable[..., RunningNode]


@pytest.fixture
def node_factory(tmp_path: Path) -> Iterator[NodeFactory]:
    """Start real node processes; all of them are stopped (SIGTERM, then SIGKILL) at teardown.

    ``node_factory("HCM", env={...}, data_dir=..., extra_args=[...], wait=True)``. Each call gets
    its own data directory under ``tmp_path`` unless ``data_dir`` is given (pass a previous
    node's ``data_dir`` to start a second process on the same database after the first stopped).
    With ``wait=False`` the process is started but not awaited; call
    ``node.process.wait_ready(timeout)`` before using it.
    """
    started: list[RunningNode] = []

    def start(
        region: str = "HCM",
        *,
        env: Mapping[str, str] | None = None,
        data_dir: Path | None = None,
        extra_args: list[str] | None = None,
        wait: bool = True,
    ) -> RunningNode:
        index = len(started)
        data = data_dir or tmp_path / f"node-{index}-{region.lower()}"
        node_env = BASE_NODE_ENV | dict(env or {})
        process, url = node_process(
            region,
            data,
            tmp_path / "logs" / f"{index}",
            env=node_env,
            extra_args=extra_args,
        )
        node = RunningNode(region=region, url=url, process=process, data_dir=data, env=node_env)
        started.append(node)
        if wait:
            process.start(READY_TIMEOUT)
        else:
            # Start without waiting so several nodes boot in parallel; readiness is the caller's.
            ready_url, process.ready_url = process.ready_url, None
            try:
                process.start()
            finally:
                process.ready_url = ready_url
        return node

    try:
        yield start
    finally:
        for node in reversed(started):
            node.process.stop(grace=10.0)


@pytest.fixture
def tls_ca() -> CertificateAuthority:
    """A throwaway CA (in memory); it can issue more certificates, e.g. a renewed one."""
    return CertificateAuthority()


@pytest.fixture
def tls_files(tmp_path: Path, tls_ca: CertificateAuthority) -> TlsFiles:
    """The CA's bundle and a node certificate for 127.0.0.1 (docs/tls.md)."""
    return make_tls_files(tmp_path / "tls", ca=tls_ca)


@pytest.fixture
def tls_node(node_factory: NodeFactory, tls_files: TlsFiles) -> RunningNode:
    """An HCM node serving HTTPS only; its readiness is checked against the test CA."""
    return node_factory(
        "HCM",
        env={
            envvars.NODE_TLS_CERT: str(tls_files.cert),
            envvars.NODE_TLS_KEY: str(tls_files.key),
            envvars.ORDER_CA_BUNDLE: str(tls_files.ca_bundle),
        },
    )


@pytest.fixture
def three_nodes(node_factory: NodeFactory) -> dict[str, RunningNode]:
    """HCM, HN and DN nodes, each on its own port and data directory, booted in parallel."""
    nodes = {region: node_factory(region, wait=False) for region in REGIONS}
    for node in nodes.values():
        node.process.wait_ready(READY_TIMEOUT)
    return nodes


#: fixtures that need Airflow (tests/dag/conftest.py): a test using one is marked ``airflow``
AIRFLOW_FIXTURES = frozenset({"airflow_db", "order_dag"})


REAL_AIRFLOW_GROUP = "real-airflow"
#: groups that take minutes (``--durations``), in the order workers should start them
LONGEST_GROUPS = (
    REAL_AIRFLOW_GROUP,
    "tests/chaos/test_campaign.py",
    "tests/dag/test_order_workflow.py",
    "tests/stress/test_routing_and_exit_codes.py",
)


# first: pytest-xdist reads the xdist_group marks in its own collection_modifyitems
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Spread the suite over xdist workers (``--dist loadgroup``) by module, except that every
    test starting a real Airflow stack (marked both ``airflow`` and ``slow``) shares one group.

    A module stays on one worker so its module-scoped fixtures start once; two Airflow stacks at
    a time would starve each other on 2 cores, so they run one after another while the other
    worker takes everything else.

    The longest groups go first (the Makefile passes ``--no-loadscope-reorder``, so groups are
    handed out in this order): the Airflow group is several minutes of one worker, and started
    last it would be the suite's tail.
    """
    groups: dict[str, str] = {}
    for item in items:
        if AIRFLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.airflow)  # dag.test(): `make test-fast` leaves it out
        if item.get_closest_marker("airflow") and item.get_closest_marker("slow"):
            group = REAL_AIRFLOW_GROUP
        else:
            group = item.nodeid.split("::", 1)[0]
        groups[item.nodeid] = group
        item.add_marker(pytest.mark.xdist_group(group))
    items.sort(
        key=lambda item: (
            LONGEST_GROUPS.index(groups[item.nodeid])
            if groups[item.nodeid] in LONGEST_GROUPS
            else len(LONGEST_GROUPS)
        )
    )
