"""Numbers from the environment: defaults when unset, a named error when wrong."""

import pytest

from order_contracts.envvars import env_float, env_int
from order_contracts.regions import ConfigError


def test_should_use_the_default_when_unset_or_blank():
    assert env_int({}, "N", 7) == 7
    assert env_float({"X": "  "}, "X", 1.5) == 1.5


def test_should_parse_values_at_or_above_the_minimum():
    assert env_int({"N": " 3 "}, "N", 7, minimum=3) == 3
    assert env_float({"X": "0.25"}, "X", 1.0, minimum=0.1) == 0.25


@pytest.mark.parametrize(
    ("parse", "raw", "message"),
    [
        (env_int, "high", "N: 'high' is not an integer"),
        (env_int, "-1", "N: -1 is below the minimum 0"),
        (env_float, "fast", "N: 'fast' is not a number"),
        (env_float, "nan", "N: 'nan' is not a finite number"),
        (env_float, "-0.5", "N: -0.5 is below the minimum 0"),
    ],
)
def test_should_name_the_variable_in_every_refusal(parse, raw, message):
    with pytest.raises(ConfigError) as caught:
        parse({"N": raw}, "N", 1)
    assert str(caught.value) == message
