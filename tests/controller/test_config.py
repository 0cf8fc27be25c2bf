"""Configuration from the environment, and the CLI's answer to a bad value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from controller.config import RANDOM_PRIORITY_RANGE, ControllerConfig
from order_contracts.regions import ConfigError


def test_should_use_the_documented_defaults():
    config = ControllerConfig.from_env({})
    assert (config.configmap, config.peering, config.metrics_port) == (
        "warehouse-routing",
        "warehouse-controller",
        9090,
    )
    assert config.namespace == "default"  # outside a pod
    assert (config.peering_lifetime, config.resync_seconds) == (30, 5.0)
    assert config.proximity["HCM"] == [["DN"], ["HN"]]


def test_should_draw_distinct_priorities_for_replicas_without_one():
    low, high = RANDOM_PRIORITY_RANGE
    priorities = {ControllerConfig.from_env({}).priority for _ in range(5)}
    assert len(priorities) > 1 and all(low <= p <= high for p in priorities)


def test_should_read_every_variable():
    config = ControllerConfig.from_env(
        {
            "CONTROLLER_NAMESPACE": "shop",
            "ROUTING_CONFIGMAP": "routes",
            "ORDER_PROXIMITY": "A=B;B=A",
            "CONTROLLER_PEERING": "",
            "CONTROLLER_PRIORITY": "7",
            "CONTROLLER_PEERING_LIFETIME": "10",
            "METRICS_PORT": "0",
            "CONTROLLER_RESYNC_SECONDS": "2.5",
        }
    )
    assert (config.namespace, config.configmap, config.priority) == ("shop", "routes", 7)
    assert config.standalone and config.metrics_port == 0
    assert config.proximity == {"A": [["B"]], "B": [["A"]]}
    assert (config.peering_lifetime, config.resync_seconds) == (10, 2.5)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CONTROLLER_PRIORITY", "high"),
        ("METRICS_PORT", "-1"),
        ("CONTROLLER_PEERING_LIFETIME", "0"),
        ("CONTROLLER_RESYNC_SECONDS", "soon"),
        ("ORDER_PROXIMITY", "HCM"),
    ],
)
def test_should_name_the_variable_at_fault(variable, value):
    with pytest.raises(ConfigError, match=variable):
        ControllerConfig.from_env({variable: value})


def test_cli_should_exit_2_with_one_line_on_a_bad_variable():
    script = Path(sys.executable).parent / "warehouse-controller"
    result = subprocess.run(
        [str(script)],
        env={"CONTROLLER_PRIORITY": "high", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == "warehouse-controller: CONTROLLER_PRIORITY: 'high' is not an integer\n"
