"""Fixtures of the node's own tests: one node per module where tests do not disturb each other."""

from __future__ import annotations

import itertools
import re
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from localmode.nodes import node_command, node_process
from tests.conftest import BASE_NODE_ENV, READY_TIMEOUT, RunningNode

_ids = itertools.count()


@pytest.fixture(scope="module")
def shared_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    """An HCM node shared by a module's tests (each test uses its own order ids)."""
    base = tmp_path_factory.mktemp("shared-node")
    process, url = node_process("HCM", base / "data", base / "logs", env=BASE_NODE_ENV)
    node = RunningNode("HCM", url, process, base / "data", dict(BASE_NODE_ENV))
    process.start(READY_TIMEOUT)
    try:
        yield node
    finally:
        process.stop(grace=10.0)


@pytest.fixture
def client(shared_node: RunningNode) -> Iterator[httpx.Client]:
    with shared_node.client() as http:
        yield http


@pytest.fixture
def order_id(request: pytest.FixtureRequest) -> str:
    """An order id no other test uses."""
    return re.sub(r"[^A-Za-z0-9._:-]", "-", f"{request.node.name[:60]}-{next(_ids)}")


def seed_order(order_id: str, region: str = "HCM", **extra: object) -> dict[str, object]:
    """The original report's payload: three fields."""
    return {"order_id": order_id, "customer_name": "Nguyen Van A", "region": region, **extra}


def run_node(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``warehouse-node`` to its exit (start-up refusals); stdout and stderr captured."""
    return subprocess.run(
        [*node_command(), *args],
        env={**BASE_NODE_ENV, "PATH": "/usr/bin:/bin", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
