"""The suite's split over both cores really groups tests (``make test``: ``--dist loadgroup``).

pytest-xdist sends a group to one worker only if it managed to suffix each node id with
``@<group>``; when it cannot (pytest 9.2 moved where node ids live), loadgroup quietly becomes
per-test distribution: module fixtures such as the demo's 7-minute run start once per worker,
and two Airflow stacks run at once. This test fails in that case instead of the suite getting
slow and flaky.
"""

from __future__ import annotations

import os

import pytest


def test_the_node_id_carries_its_xdist_group(request: pytest.FixtureRequest) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER") or not request.config.getvalue("loadgroup"):
        pytest.skip("only meaningful under pytest-xdist --dist loadgroup (make test)")
    groups = [mark.args[0] for mark in request.node.iter_markers("xdist_group")]
    assert groups == ["tests/unit/test_xdist_groups.py"]
    assert request.node.nodeid.endswith(f"@{groups[0]}"), request.node.nodeid
