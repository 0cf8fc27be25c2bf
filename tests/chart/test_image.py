"""The images' Dockerfiles: multi-stage, runtime lock only, non-root user matching the chart,
a build context that holds what it copies, the commands the chart runs, and hermetic inputs
(bases pinned, every package and the build backend installed by hash). No Docker here: the
checks read the files the build would read."""

from __future__ import annotations

import re
import tomllib

from .helpers import ROOT, pod_specs, render_chart

DOCKERFILE = ROOT / "images" / "warehouse" / "Dockerfile"
AIRFLOW_DOCKERFILE = ROOT / "images" / "airflow" / "Dockerfile"
RUNTIME_LOCK = ROOT / "requirements-runtime.lock"
BUILD_LOCK = ROOT / "requirements-build.lock"
IMAGE_PYPROJECT = ROOT / "images" / "warehouse" / "pyproject.toml"


def _toml(path) -> dict:
    return tomllib.loads(path.read_text())


def _stages() -> list[str]:
    """The Dockerfile's stages, each from its FROM line to the next."""
    text = DOCKERFILE.read_text()
    return re.split(r"^(?=FROM )", text, flags=re.M)[1:]


def _pins(path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)", path.read_text(), re.M))


def test_is_multi_stage_on_slim_python_311():
    stages = _stages()
    assert len(stages) == 2
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim@", DOCKERFILE.read_text(), re.M)
    assert stages[0].startswith("FROM ${PYTHON_IMAGE} AS build")
    assert "COPY --from=build /opt/venv /opt/venv" in stages[1]


def test_final_stage_has_no_build_tools_and_runs_as_the_charts_user():
    final = _stages()[1]
    assert not re.search(r"apt-get|gcc|build-essential|pip install", final)
    (user,) = re.findall(r"^USER (\d+):(\d+)$", final, re.M)
    for label, spec in pod_specs(render_chart(values={"stress": {"enabled": True}})):
        context = spec["securityContext"]
        assert (str(context["runAsUser"]), str(context["runAsGroup"])) == user, label


def test_installs_runtime_dependencies_from_the_lock_only():
    build = _stages()[0]
    assert "pip install --no-deps --require-hashes -r requirements-runtime.lock" in build
    pins = _pins(RUNTIME_LOCK)
    assert not any(name.startswith("apache-airflow") for name in pins)
    assert not {"pytest", "mypy", "ruff"} & set(pins)


def test_runtime_lock_covers_pyproject_and_agrees_with_the_dev_lock():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {name.lower(): version for name, version in _pins(RUNTIME_LOCK).items()}
    full = {name.lower(): version for name, version in _pins(ROOT / "requirements.lock").items()}
    for requirement in project["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0).lower()
        assert name in runtime, f"{name} is missing from requirements-runtime.lock: run `make lock`"
    # the image runs the versions the tests ran
    mismatched = {n: (v, full[n]) for n, v in runtime.items() if n in full and full[n] != v}
    assert mismatched == {}, f"locks disagree (run `make lock`): {mismatched}"


def test_build_context_holds_everything_the_dockerfile_copies():
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    allowed = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    assert "*" in ignore
    sources = []
    for dockerfile in (DOCKERFILE, ROOT / "images" / "airflow" / "Dockerfile"):
        for args in re.findall(r"^COPY\s+(?!--from)(.+)$", dockerfile.read_text(), re.M):
            parts = [p for p in args.split() if not p.startswith("--")]
            sources += [p.rstrip("/") for p in parts[:-1]]
    for source in sources:
        assert any(source == a or source.startswith(a + "/") for a in allowed), source
        assert (ROOT / source).exists(), source


def test_commands_the_chart_runs_are_console_scripts_of_the_image():
    scripts = _toml(IMAGE_PYPROJECT)["project"]["scripts"]
    commands = {
        spec["containers"][0]["command"][0]
        for _, spec in pod_specs(render_chart(values={"stress": {"enabled": True}}))
    }
    assert commands - {"python"} == {"warehouse-node", "warehouse-controller", "orders-stress"}
    assert commands - {"python"} <= set(scripts)
    assert re.search(r'^CMD \["warehouse-node"\]$', DOCKERFILE.read_text(), re.M)


def test_the_installed_distribution_carries_every_subpackage():
    # The dev venv installs the project editable, which finds subpackages by path; the image
    # installs it for real, which copies only the packages pyproject lists. A subpackage missing
    # from the list breaks the image (ModuleNotFoundError at start) while every test still passes.
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = set()
    for package, directory in setuptools["package-dir"].items():
        for init in (ROOT / directory).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / directory)
            found.add(".".join([package, *relative.parts]))
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


def _subpackages(setuptools: dict) -> set[str]:
    found = set()
    for package, directory in setuptools["package-dir"].items():
        for init in (ROOT / directory).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / directory)
            found.add(".".join([package, *relative.parts]))
    return found


def test_the_image_installs_its_own_distribution_without_the_laptop_parts():
    build = _stages()[0]
    assert "COPY images/warehouse/pyproject.toml ./pyproject.toml" in build
    assert "pip install --no-deps --no-build-isolation --no-index ." in build
    image, repo = _toml(IMAGE_PYPROJECT), _toml(ROOT / "pyproject.toml")
    assert image["project"]["version"] == repo["project"]["version"]
    assert "dependencies" not in image["project"]  # the runtime lock is the image's list
    assert image["project"]["scripts"].items() <= repo["project"]["scripts"].items()
    tools, repo_tools = image["tool"]["setuptools"], repo["tool"]["setuptools"]
    assert {p.split(".")[0] for p in tools["packages"]} == {
        "order_contracts", "warehouse_node", "controller", "stress"
    }  # fmt: skip
    assert set(tools["packages"]) <= set(repo_tools["packages"])
    assert tools["package-dir"].items() <= repo_tools["package-dir"].items()
    assert _subpackages(tools) <= set(tools["packages"])
    copied = {
        args.split()[0].rstrip("/") for args in re.findall(r"^COPY\s+(?!--from)(.+)$", build, re.M)
    }
    assert set(tools["package-dir"].values()) <= copied
    assert not any(c.split("/")[0] in {"localmode", "chaos", "benchmarks", "tests"} for c in copied)
    assert not any(c.endswith(".py") for c in copied)  # no DAG file (order_workflow, benchmark)


def _arg(dockerfile, name: str) -> str:
    (value,) = re.findall(rf"^ARG {name}=(\S+)$", dockerfile.read_text(), re.M)
    return value


def _locked(path) -> dict[str, list[str]]:
    """Each pin of a uv lock with its hashes (the continuation lines after `name==version`)."""
    entries: dict[str, list[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_.\-]+==\S+)", line):
            current = match.group(1)
            entries[current] = []
        elif current and (digest := re.match(r"^\s+--hash=sha256:([0-9a-f]{64})", line)):
            entries[current].append(digest.group(1))
        elif not line.startswith(" "):
            current = None
    return entries


def test_the_python_base_is_pinned_by_digest_and_used_by_both_stages():
    assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", _arg(DOCKERFILE, "PYTHON_IMAGE"))
    assert [s.split()[1] for s in _stages()] == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]


def test_the_airflow_base_is_the_tested_airflow_version():
    # A digest is optional until someone with registry access fills it in (the Dockerfile and
    # docs/kubernetes-hardening.md say how); the tag is never floating.
    base = _arg(AIRFLOW_DOCKERFILE, "AIRFLOW_IMAGE")
    match = re.fullmatch(r"apache/airflow:(\d+\.\d+\.\d+)(@sha256:[0-9a-f]{64})?", base)
    assert match, base
    assert match.group(1) == _pins(ROOT / "requirements.lock")["apache-airflow"]
    assert re.findall(r"^FROM (.+)$", AIRFLOW_DOCKERFILE.read_text(), re.M) == ["${AIRFLOW_IMAGE}"]


def test_every_locked_package_has_a_hash_and_the_locks_are_installed_by_hash():
    for lock in (RUNTIME_LOCK, BUILD_LOCK):
        entries = _locked(lock)
        assert entries, lock
        unhashed = [pin for pin, hashes in entries.items() if not hashes]
        assert unhashed == [], f"{lock.name}: pins without --hash (run `make lock`): {unhashed}"
    build = _stages()[0]
    for lock in ("requirements-build.lock", "requirements-runtime.lock"):
        assert f"pip install --no-deps --require-hashes -r {lock}" in build
    # every pip install of the build stage is either by hash or offline
    for command in re.findall(r"pip install[^\n&]*", build):
        assert "--require-hashes" in command or "--no-index" in command, command


def test_the_build_backend_is_pinned_once_and_installed_without_isolation():
    (setuptools,) = _locked(BUILD_LOCK)  # the build lock holds setuptools and nothing else
    assert setuptools.startswith("setuptools==")
    assert (ROOT / "images" / "build-requirements.in").read_text().count(setuptools) == 1
    # pip builds the image's distribution with what is installed (no isolated env fetching an
    # unpinned setuptools or wheel): [build-system] must name exactly the locked setuptools.
    assert _toml(IMAGE_PYPROJECT)["build-system"]["requires"] == [setuptools]
    assert "--no-build-isolation" in _stages()[0]
    assert "pip uninstall --yes setuptools pip" in _stages()[0]


def test_the_airflow_image_ships_the_production_dag_only():
    sources = {
        args.split()[0].rstrip("/")
        for args in re.findall(r"^COPY\s+(?:--\S+\s+)*(.+)$", AIRFLOW_DOCKERFILE.read_text(), re.M)
    }
    assert sources == {"dags"}
    assert sorted(p.name for p in (ROOT / "dags").glob("*.py")) == ["order_workflow.py"]
    assert (ROOT / "benchmarks" / "dags" / "floor_workflow.py").exists()
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert not any(line.startswith("!benchmarks") for line in ignore)
