"""Every console script answers ``--help`` and ``--version`` with exit 0 (issue 15, item 7),
and ``orders-demo --help`` works without the Airflow extra (no psycopg2, no airflow)."""

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
    target: str, *args: str, blocked: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Call ``module:function`` as its console script would, in a fresh interpreter; modules in
    ``blocked`` fail to import there, as when their distribution is not installed."""
    module, function = target.split(":")
    code = (
        "import sys\n"
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
