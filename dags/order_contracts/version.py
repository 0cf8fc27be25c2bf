"""The one version string every console script's ``--version`` prints.

The dev install is the ``regional-orders`` distribution, the warehouse image installs
``regional-orders-warehouse`` (images/warehouse/pyproject.toml): whichever is installed names the
version; a bare checkout says ``0.0.0+unknown``.
"""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError, version

DISTRIBUTIONS = ("regional-orders", "regional-orders-warehouse")
UNKNOWN = "0.0.0+unknown"


def package_version() -> str:
    for name in DISTRIBUTIONS:
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return UNKNOWN


def version_line(prog: str) -> str:
    """``PROG VERSION``: what ``--version`` prints (one line, exit 0)."""
    return f"{prog} {package_version()}"


def add_version_flag(parser: argparse.ArgumentParser) -> None:
    """``--version`` on an argparse parser (its ``prog`` names the command)."""
    parser.add_argument("--version", action="version", version=version_line(parser.prog))
