"""orders-demo refuses impossible options with one line naming the option, before starting."""

import pytest

from localmode.demo import parse_args


def test_defaults_keep_the_outage_within_the_dags_retry_budget():
    options = parse_args([])
    assert options.max_down_s < 3 * options.retry_delay_s
    assert options.kill_region == "HCM"


def test_region_is_case_insensitive():
    assert parse_args(["--kill", "dn"]).kill_region == "DN"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--kill", "PARIS"], "--kill 'PARIS': not one of HCM, HN, DN"),
        (["--max-down", "100"], "--max-down must stay below the DAG's retry budget"),
        (["--rate", "0"], "--rate must be positive"),
        (["--batch-size", "501"], "--batch-size must be 1..500"),
    ],
)
def test_should_refuse_with_one_line_naming_the_option(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err.splitlines()[-1]
