"""Pure pieces of the stress tool: flag parsers, percentiles, seeded generation."""

from __future__ import annotations

import pytest

from stress.config import (
    Stage,
    StressConfig,
    parse_duration,
    parse_rate,
    parse_region_mix,
    parse_stages,
)
from stress.engine import units_of
from stress.orders import OrderGenerator
from stress.stages import schedule
from stress.stats import latency_summary, percentile


@pytest.mark.parametrize(
    ("text", "per_second"), [("200", 200.0), ("200/s", 200.0), ("600/m", 10.0), ("1.5", 1.5)]
)
def test_rate_accepts_per_second_and_per_minute(text: str, per_second: float) -> None:
    assert parse_rate(text) == per_second


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30", 30.0), ("30s", 30.0), ("2m", 120.0), ("1h", 3600.0), ("500ms", 0.5)],
)
def test_duration_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_region_mix_is_normalised_and_case_insensitive() -> None:
    assert parse_region_mix("hcm=5,HN=3,dn=2") == {"HCM": 0.5, "HN": 0.3, "DN": 0.2}
    assert parse_region_mix(None) == pytest.approx({"HCM": 1 / 3, "HN": 1 / 3, "DN": 1 / 3})


def test_open_loop_plans_rate_times_duration_orders() -> None:
    assert StressConfig(rate=150, duration=2, orders=None).planned_orders() == 300
    assert StressConfig(rate=150, duration=2, orders=100).planned_orders() == 100
    assert StressConfig(duration=2, orders=None).planned_orders() is None


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, p) for p in (50, 90, 99, 100)] == [50.0, 90.0, 99.0, 100.0]
    assert latency_summary([0.001, 0.002, 0.003])["max"] == 3.0
    assert latency_summary([]) == {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0, "mean": 0.0}


def test_same_seed_same_orders_and_the_mix_is_respected() -> None:
    mix = parse_region_mix("HCM=0.5,HN=0.3,DN=0.2")
    first = OrderGenerator("r", mix, 0.1, seed=9).take(2000)
    again = OrderGenerator("r", mix, 0.1, seed=9).take(2000)
    assert [o.body for o in first] == [o.body for o in again]
    assert [o.body for o in OrderGenerator("r", mix, 0.1, seed=10).take(50)] != [
        o.body for o in first[:50]
    ]
    share = sum(o.region == "HCM" for o in first) / len(first)
    assert 0.45 < share < 0.55
    invalid = sum(not o.valid for o in first) / len(first)
    assert 0.07 < invalid < 0.13


def test_stages_parse_schedule_and_plan() -> None:
    stages = parse_stages("1s:4, 500ms:0, 2s:60/m")
    assert stages == (Stage(1.0, 4.0), Stage(0.5, 0.0), Stage(2.0, 1.0))
    assert StressConfig(stages=stages, orders=None).planned_orders() == 6
    assert StressConfig(stages=stages, orders=None).mode == "open"
    units = units_of(OrderGenerator("r", parse_region_mix(None), 0.0).take(6), 1)
    times = [t for t, _ in schedule(stages, units)]
    assert times == [0.0, 0.25, 0.5, 0.75, 1.5, 2.5]  # the pause sends nothing
    with pytest.raises(ValueError, match="stages"):
        StressConfig(stages=stages, rate=10.0)


def test_default_lanes_are_each_regions_share_of_the_slots() -> None:
    mix = parse_region_mix("HCM=0.5,HN=0.3,DN=0.2")
    config = StressConfig(target="nodes", concurrency=10, region_mix=mix)
    assert config.lane_limits() == {"HCM": 5, "HN": 3, "DN": 2}
    assert StressConfig(target="nodes", region_mix=mix, in_flight_per_node=4).lane_limits() == {
        "HCM": 4, "HN": 4, "DN": 4,
    }  # fmt: skip
    assert StressConfig(target="nodes", bulk=50).lane_limits() is None  # a unit mixes regions
    assert StressConfig(target="airflow").lane_limits() is None
