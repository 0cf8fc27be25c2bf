"""The shared fixtures other parts build on start what they promise."""

from __future__ import annotations

from order_contracts.health import Health
from tests.conftest import RunningNode


def test_three_nodes_are_separate_healthy_shards(three_nodes: dict[str, RunningNode]) -> None:
    assert set(three_nodes) == {"HCM", "HN", "DN"}
    assert len({n.url for n in three_nodes.values()}) == 3
    assert len({n.data_dir for n in three_nodes.values()}) == 3
    for region, node in three_nodes.items():
        with node.client() as http:
            health = Health.model_validate(http.get("/health").json())
        assert (health.region, health.status) == (region, "ok")
        assert node.process.running()
