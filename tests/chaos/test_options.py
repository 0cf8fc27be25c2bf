"""orders-chaos's flags: bad input is one line and exit 2; the plan is a function of the seed."""

from __future__ import annotations

import pytest

from chaos.cli import main, parse_options
from chaos.plan import FAULT_KINDS, NODE_FAULTS, CampaignOptions, plan_trials


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--faults", "kill,meteor"], "unknown fault 'meteor'"),
        (["--faults", ","], "name at least one fault kind"),
        (["--trials", "0"], "needs at least one trial"),
        (["--trials", "many"], "is not a whole number"),
        (["--rate", "-5"], "--rate '-5'"),
        (["--rate", "0"], "must be more than zero"),
        (["--window", "5-2"], "needs 0 < low <= high"),
        (["--faults", "scheduler-kill"], "needs --target airflow"),
        (["--target", "mars"], "invalid choice"),
        (["--disk-size", "lots"], "expected a size like 64m"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("orders-chaos: error: ")
    assert message in err
    assert len(err.splitlines()) == 1


def test_a_foreign_state_dir_is_not_wiped(
    tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    precious = tmp_path / "precious.txt"  # type: ignore[operator]
    precious.write_text("keep me")
    assert main(["--state-dir", str(tmp_path)]) == 2
    assert "not an orders-chaos directory" in capsys.readouterr().err
    assert precious.read_text() == "keep me"


def test_self_check_means_disk_loss() -> None:
    options = parse_options(["--self-check", "--faults", "kill"])
    assert options.faults == ("disk-loss",)
    assert options.self_check


def test_the_plan_is_the_seed_s_and_covers_every_kind_each_round() -> None:
    options = CampaignOptions(trials=len(FAULT_KINDS) * 2, faults=FAULT_KINDS, seed=42)
    first, again = plan_trials(options), plan_trials(options)
    assert first == again
    assert plan_trials(CampaignOptions(trials=16, faults=FAULT_KINDS, seed=43)) != first
    size = len(FAULT_KINDS)
    for start in (0, size):
        assert sorted(t.kind for t in first[start : start + size]) == sorted(FAULT_KINDS)
    for trial in first:
        assert (trial.region is not None) == (trial.kind in NODE_FAULTS)
        assert options.window[0] <= trial.duration_s <= options.window[1]
        assert options.lead[0] <= trial.lead_s <= options.lead[1]
