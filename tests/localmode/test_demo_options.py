"""orders-demo refuses impossible options with one line naming the option, before starting."""

import pytest

from localmode.demo import parse_args


def test_defaults_keep_the_outage_within_the_dags_retry_budget():
    options = parse_args([])
    assert options.max_down_s < 3 * options.retry_delay_s
    assert options.kill_region == "HCM"


def test_region_is_case_insensitive():
    assert parse_args(["--kill", "dn"]).kill_region == "DN"
    assert parse_args(["--lose-disk", "dn"]).lose_disk_region == "DN"


def test_replication_is_on_and_hn_loses_its_disk_by_default():
    options = parse_args([])
    assert options.replication is True
    assert options.lose_disk_region == "HN"


def test_lose_disk_none_skips_the_phase():
    assert parse_args(["--lose-disk", "none"]).lose_disk_region is None


def test_replication_off_skips_the_disk_loss_phase_unless_one_is_asked_for():
    options = parse_args(["--replication", "off"])
    assert (options.replication, options.lose_disk_region) == (False, None)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--kill", "PARIS"], "--kill 'PARIS': not one of HCM, HN, DN"),
        (["--max-down", "100"], "--max-down must stay below the DAG's retry budget"),
        (["--rate", "0"], "--rate must be positive"),
        (["--batch-size", "501"], "--batch-size must be 1..500"),
        (["--replication", "maybe"], "argument --replication: invalid choice: 'maybe'"),
        (["--lose-disk", "PARIS"], "--lose-disk 'PARIS': not one of HCM, HN, DN or none"),
        (["--replication", "off", "--lose-disk", "HN"], "--lose-disk HN needs --replication on"),
        (["--disk-loss-rate", "0"], "--disk-loss-rate must be positive"),
        (["--disk-loss-seconds", "-1"], "--disk-loss-seconds must be positive"),
        (["--disk-loss-down", "0"], "--disk-loss-down must be positive"),
        (["--disk-loss-rate", "fast"], "argument --disk-loss-rate: invalid float value: 'fast'"),
        (
            ["--disk-loss-seconds", "10", "--disk-loss-down", "8"],
            "--disk-loss-down must end before the phase does: below 7 s",
        ),
    ],
)
def test_should_refuse_with_one_line_naming_the_option(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err.splitlines()[-1]
