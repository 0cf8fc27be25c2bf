"""Every console script answers ``--help`` and ``--version`` with exit 0 (issue 15, item 7),
every option has help text, and ``orders-demo --help`` works without the Airflow extra (no
psycopg2, no airflow)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from order_contracts.version import package_version

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
IMAGE_SCRIPTS: dict[str, str] = tomllib.loads(
    (ROOT / "images" / "warehouse" / "pyproject.toml").read_text()
)["project"]["scripts"]


def run_entry_point(
    target: str, *args: str, blocked: tuple[str, ...] = (), prelude: str = ""
) -> subprocess.CompletedProcess[str]:
    """Call ``module:function`` as its console script would, in a fresh interpreter; modules in
    ``blocked`` fail to import there, as when their distribution is not installed; ``prelude``
    runs first."""
    module, function = target.split(":")
    code = (
        prelude + "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        f"sys.argv = [{module!r}, *{list(args)!r}]\n"
        f"from {module} import {function}\n"
        f"sys.exit({function}())\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def test_the_image_ships_a_subset_of_the_scripts() -> None:
    assert IMAGE_SCRIPTS.items() <= SCRIPTS.items()


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_help_and_version_exit_0(name: str) -> None:
    helped = run_entry_point(SCRIPTS[name], "--help")
    assert helped.returncode == 0, helped.stderr
    assert "--version" in helped.stdout
    versioned = run_entry_point(SCRIPTS[name], "--version")
    assert versioned.returncode == 0, versioned.stderr
    assert versioned.stdout.strip() == f"{name} {package_version()}"


def test_orders_demo_help_needs_no_airflow_extra() -> None:
    blocked = ("psycopg2", "airflow")
    helped = run_entry_point(SCRIPTS["orders-demo"], "--help", blocked=blocked)
    assert helped.returncode == 0, helped.stderr
    assert "usage: orders-demo" in helped.stdout


@pytest.mark.parametrize("name", sorted(n for n in SCRIPTS if n != "orders-stress"))
def test_every_argparse_option_has_help_text(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """In process (a fresh interpreter per script is slow on shared cores): the parser that
    would print ``--help`` is caught and its options read."""
    import argparse
    import importlib

    seen: list[argparse.ArgumentParser] = []
    monkeypatch.setattr(
        argparse.ArgumentParser, "print_help", lambda self, file=None: seen.append(self)
    )
    monkeypatch.setattr(sys, "argv", [name, "--help"])
    module, function = SCRIPTS[name].split(":")
    with pytest.raises(SystemExit) as exited:
        getattr(importlib.import_module(module), function)()
    assert exited.value.code in (0, None)
    (parser,) = seen
    missing = [
        a.option_strings[0] if a.option_strings else a.dest
        for a in parser._actions
        if not a.help and not isinstance(a, argparse._HelpAction)
    ]
    assert missing == []


def test_every_stress_option_has_help_text() -> None:
    import typer

    from stress.cli import app

    command = typer.main.get_command(app)
    options = [p for p in command.params if p.param_type_name == "option"]
    assert options
    assert [p.name for p in options if not p.help] == []
