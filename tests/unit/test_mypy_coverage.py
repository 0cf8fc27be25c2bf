"""Every tracked Python file outside tests/ is type-checked (issue 14, item 3): it lies in a
package or module that mypy's configuration names, or ``make typecheck`` checks it by path.
A new top-level folder of Python, or a script dropped beside the chart, fails here until
someone decides how it is checked."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def tracked_python() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return [p for p in out.stdout.split() if not p.startswith("tests/")]


def covered_by_config(path: str, config: dict) -> bool:
    roots = [r for r in config["mypy_path"].split(":") if r != "."] + [""]
    names = set(config.get("packages", [])) | set(config.get("modules", []))
    for root in roots:
        prefix = f"{root}/" if root else ""
        if not path.startswith(prefix):
            continue
        parts = Path(path[len(prefix) :]).with_suffix("").parts
        if parts and (parts[0] in names):
            return True
    return False


def checked_by_make(path: str) -> bool:
    recipe = re.search(r"^typecheck:\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    assert recipe, "Makefile has no typecheck recipe"
    return path in recipe.group(1).split()


def test_every_python_file_outside_tests_is_type_checked() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    unchecked = [
        p for p in tracked_python() if not covered_by_config(p, config) and not checked_by_make(p)
    ]
    assert unchecked == []


def test_the_rule_sees_a_file_nobody_checks() -> None:
    config = {"mypy_path": "dags:images/warehouse:.", "packages": ["stress"], "modules": []}
    assert covered_by_config("stress/cli.py", config)
    assert covered_by_config(
        "images/warehouse/warehouse_node/app.py", {**config, "packages": ["warehouse_node"]}
    )
    assert not covered_by_config("scripts/tool.py", config)
    assert not checked_by_make("scripts/tool.py")
