"""What may import what, and what the node's runtime carries (issue 14, item 2).

``stress/`` and ``images/`` run in the warehouse image, which ships neither the laptop launcher
(``localmode/``), the fault campaign (``chaos/``), the benchmarks nor the tests: an import of
one of them would work in the dev venv and fail in a pod. The plotting libraries are the
``stress`` extra, so the image's lock must not carry them.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: folders whose code runs in the warehouse image
IMAGE_CODE = ("stress", "images")
#: top-level packages that code may not import
NOT_IN_THE_IMAGE = frozenset({"localmode", "chaos", "benchmarks", "tests"})
PLOTTING = frozenset({"matplotlib", "numpy", "pillow", "contourpy", "kiwisolver", "fonttools"})


def imported_modules(path: Path) -> set[str]:
    """Every absolute module name ``path`` imports (anywhere in the file, lazily or not)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("folder", IMAGE_CODE)
def test_image_code_imports_nothing_the_image_does_not_ship(folder: str) -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name in imported_modules(path)
        if name.split(".")[0] in NOT_IN_THE_IMAGE
    }
    assert offenders == set()


def test_the_rule_sees_a_lazy_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from localmode.airflow import x\n    import chaos.cli\n")
    assert imported_modules(probe) == {"localmode.airflow", "chaos.cli"}


def _pins(path: Path) -> set[str]:
    return {m.lower() for m in re.findall(r"^([A-Za-z0-9_.\-]+)==", path.read_text(), re.M)}


def test_the_node_runtime_lock_has_no_plotting_libraries() -> None:
    runtime = _pins(ROOT / "requirements-runtime.lock")
    assert runtime & PLOTTING == set()
    assert {"matplotlib", "numpy", "pillow"} <= _pins(ROOT / "requirements.lock")  # dev has them


def test_plotting_is_the_stress_extra_not_a_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> set[str]:
        return {re.split(r"[<>=\[ ;]", r, maxsplit=1)[0].lower() for r in requirements}

    assert names(project["dependencies"]) & PLOTTING == set()
    assert {"matplotlib", "numpy", "pillow"} <= names(project["optional-dependencies"]["stress"])


def test_plot_without_the_stress_extra_is_one_line_before_any_order(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import stress.cli

    monkeypatch.setattr(stress.cli, "plotting_available", lambda: False)
    with pytest.raises(SystemExit) as exited:
        stress.cli.main(["--target", "nodes", "--orders", "1", "--plot", str(tmp_path / "p.png")])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert (
        err
        == "orders-stress: error: --plot needs matplotlib: pip install 'regional-orders[stress]'"
    )


def test_benchmarks_import_no_test_code() -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / "benchmarks").rglob("*.py"))
        for name in imported_modules(path)
        if name.split(".")[0] == "tests"
    }
    assert offenders == set()


def test_mypy_checks_every_package_and_dag_file() -> None:
    """A package or DAG file mypy does not name is unchecked code (issue 14, item 3)."""
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    checked = set(mypy["packages"]) | set(mypy.get("modules", []))
    bases = [ROOT / base for base in mypy["mypy_path"].split(":")]
    found = {
        child.name
        for base in bases
        for child in base.iterdir()
        if (child / "__init__.py").is_file() and child.name != "tests"
    }
    found |= {p.stem for p in (ROOT / "dags").glob("*.py")}  # DAG files are top-level modules
    assert found - checked == set()
