"""A real local Airflow 3: api-server, scheduler, dag-processor and triggerer on PostgreSQL.

Local mode, the real-Airflow tests, the benchmarks and the demo all start Airflow through
:class:`LocalAirflow`, so they measure and show the same thing. Every component is a
:class:`~localmode.processes.ManagedProcess` with its own log file under ``STATE/logs``;
``AIRFLOW_HOME`` is ``STATE/airflow``; the DAGs folder is this repository's ``dags/``.

Configuration is passed to every component as ``AIRFLOW__SECTION__KEY`` variables (nothing is
written to ``airflow.cfg``), built from :class:`AirflowSettings`, whose defaults are the tuned
values measured by ``benchmarks/airflow_throughput.py`` on 2 cores (see the README).

Login: the Simple auth manager (Airflow 3's default) with one admin user. Its password file is
written before the api-server starts, so the password is known rather than generated:
``AIRFLOW_ADMIN_USER`` / ``AIRFLOW_ADMIN_PASSWORD`` (default ``admin`` / ``admin``; the server
listens on 127.0.0.1 only).

Run it by hand: ``python -m localmode.airflow --state-dir .demo/airflow`` (Ctrl-C stops it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stress.airflow_api import AirflowClient
from stress.airflow_rest import AirflowAPIError

from .airflow_settings import AirflowSettings
from .postgres import PostgresCluster
from .processes import ManagedProcess, free_port, wait_until

REPO_ROOT = Path(__file__).resolve().parent.parent
DAGS_FOLDER = REPO_ROOT / "dags"
COMPONENTS = ("scheduler", "dag-processor", "triggerer")
#: Bounds on waits that only a failure reaches: on a quiet machine the api-server answers within
#: ~30 s and the DAG registers within seconds, but a loaded one (CI, a laptop building images)
#: has taken over 3 minutes to start the api-server's workers. A generous bound costs nothing
#: when things work.
START_TIMEOUT_S = 600.0
DAG_REGISTER_TIMEOUT_S = 300.0


def airflow_command() -> list[str]:
    """The ``airflow`` CLI of this interpreter's environment."""
    script = Path(sys.executable).parent / "airflow"
    if script.exists():
        return [str(script)]
    found = shutil.which("airflow")
    if found:
        return [found]
    return [sys.executable, "-m", "airflow"]


def _secret(path: Path, make: Callable[[], str]) -> str:
    """A secret generated once per state directory (components must share it)."""
    if path.exists():
        return path.read_text().strip()
    value = make()
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


@dataclass
class LocalAirflow:
    """One Airflow installation in ``state_dir`` using the database at ``database_url``."""

    state_dir: Path
    database_url: str
    settings: AirflowSettings = field(default_factory=AirflowSettings)
    #: extra environment for every component (the DAG's ORDER_* settings, NODE_API_TOKEN, ...)
    extra_env: Mapping[str, str] = field(default_factory=dict)
    dags_folder: Path = DAGS_FOLDER
    port: int = 0
    username: str = field(default_factory=lambda: os.environ.get("AIRFLOW_ADMIN_USER", "admin"))
    password: str = field(default_factory=lambda: os.environ.get("AIRFLOW_ADMIN_PASSWORD", "admin"))
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    worker_log_port: int = 0
    trigger_log_port: int = 0

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir)
        self.port = self.port or free_port()
        self.worker_log_port = self.worker_log_port or free_port()
        self.trigger_log_port = self.trigger_log_port or free_port()

    @property
    def home(self) -> Path:
        return self.state_dir / "airflow"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """Everything the components share: paths, database, secrets, login, tuned settings."""
        self.home.mkdir(parents=True, exist_ok=True)
        passwords = self.home / "simple_auth_manager_passwords.json"
        passwords.write_text(json.dumps({self.username: self.password}) + "\n")
        passwords.chmod(0o600)
        jwt_secret = _secret(self.home / ".jwt_secret", lambda: secrets.token_urlsafe(32))
        api_secret = _secret(self.home / ".api_secret", lambda: secrets.token_urlsafe(32))
        fernet = _secret(self.home / ".fernet_key", _fernet_key)
        return (
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__FERNET_KEY": fernet,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{self.username}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database_url,
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": self.url,
                "AIRFLOW__API__SECRET_KEY": api_secret,
                "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret,
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                # Task and trigger log servers: own ports, so several local Airflows can run.
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.worker_log_port),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.trigger_log_port),
                "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
                # The DAG folder's contracts package must win over any installed copy.
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(self.dags_folder), os.environ.get("PYTHONPATH", "")) if p
                ),
            }
            | self.settings.airflow_env()
            | dict(self.extra_env)
        )

    def migrate(self, timeout: float = 300.0) -> None:
        """``airflow db migrate``: create or upgrade the metadata schema."""
        process = ManagedProcess(
            "airflow db migrate",
            [*airflow_command(), "db", "migrate"],
            self.log_dir / "airflow-db-migrate.log",
            env=self.env(),
        ).start()
        assert process.proc is not None
        try:
            code = process.proc.wait(timeout)
        except Exception:
            process.kill()
            raise
        if code != 0:
            raise RuntimeError(
                f"airflow db migrate failed (exit {code}); see {process.log_path}:\n"
                + process.tail()
            )

    def start(self, timeout: float = START_TIMEOUT_S) -> LocalAirflow:
        """Migrate, start the four components and wait until the api-server answers."""
        self.migrate()
        env = self.env()
        api = ManagedProcess(
            "airflow api-server",
            [*airflow_command(), "api-server", "--host", "127.0.0.1", "--port", str(self.port)],
            self.log_dir / "airflow-api-server.log",
            env=env,
            ready_url=f"{self.url}/api/v2/monitor/health",
        )
        self.processes["api-server"] = api
        for name in COMPONENTS:
            self.processes[name] = ManagedProcess(
                f"airflow {name}",
                [*airflow_command(), name],
                self.log_dir / f"airflow-{name}.log",
                env=env,
            )
        try:
            # Start everything first and wait afterwards: the components import Airflow in
            # parallel (each takes several seconds of CPU).
            for process in self.processes.values():
                ready_url, process.ready_url = process.ready_url, None
                process.start()
                process.ready_url = ready_url
            api.wait_ready(timeout)
            for name, process in self.processes.items():
                if not process.running():
                    raise RuntimeError(f"airflow {name} exited; see {process.log_path}")
        except BaseException:
            self.stop()
            raise
        return self

    def client(self) -> AirflowClient:
        return AirflowClient(self.url, self.username, self.password)

    def wait_dag(self, dag_id: str, timeout: float = DAG_REGISTER_TIMEOUT_S) -> None:
        """Wait until the dag-processor registered ``dag_id`` without errors; unpause it."""
        with self.client() as client:

            def registered() -> bool:
                self._check_running()
                try:
                    client.dag(dag_id)
                except AirflowAPIError as exc:
                    if exc.status != 404:
                        raise
                    errors = client.import_errors()
                    if errors:  # a broken DAG file will not register: say why, now
                        first = errors[0]
                        raise RuntimeError(
                            f"DAG {dag_id} is not registered; {first.get('filename')} failed to "
                            f"import:\n{first.get('stack_trace')}"
                        ) from exc
                    return False
                return True

            wait_until(registered, timeout, 0.5, f"DAG {dag_id} to be registered")
            client.set_paused(dag_id, False)

    def _check_running(self) -> None:
        for name, process in self.processes.items():
            if not process.running():
                raise RuntimeError(f"airflow {name} exited; see {process.log_path}")

    def stop(self) -> None:
        """Stop the components (scheduler first, so no new task starts while others stop)."""
        order = ["scheduler", "triggerer", "dag-processor", "api-server"]
        for name in order:
            process = self.processes.get(name)
            if process is not None:
                process.stop(grace=20.0)


def _fernet_key() -> str:
    from cryptography.fernet import Fernet  # an Airflow dependency

    return Fernet.generate_key().decode()


@contextlib.contextmanager
def local_airflow(
    state_dir: Path,
    settings: AirflowSettings | None = None,
    extra_env: Mapping[str, str] | None = None,
    dags_folder: Path = DAGS_FOLDER,
    wait_for: tuple[str, ...] = (),
    start_timeout: float = START_TIMEOUT_S,
) -> Iterator[LocalAirflow]:
    """PostgreSQL + Airflow for the duration of a ``with`` block; both removed afterwards.

    ``wait_for`` names DAGs to wait for (registered and unpaused) before the block runs;
    ``start_timeout`` bounds the api-server's start (a busy machine needs more).
    """
    state_dir = Path(state_dir)
    cluster = PostgresCluster(state_dir / "logs")
    airflow: LocalAirflow | None = None
    try:
        cluster.start()
        airflow = LocalAirflow(
            state_dir,
            cluster.url,
            settings=settings or AirflowSettings(),
            extra_env=extra_env or {},
            dags_folder=dags_folder,
        )
        airflow.start(start_timeout)
        for dag_id in wait_for:
            airflow.wait_dag(dag_id)
        yield airflow
    finally:
        if airflow is not None:
            airflow.stop()
        cluster.remove()


def main(argv: list[str] | None = None) -> int:
    """Start PostgreSQL + Airflow in a state directory and keep them running until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m localmode.airflow", description=main.__doc__)
    parser.add_argument("--state-dir", type=Path, default=Path(".demo/airflow"))
    parser.add_argument("--dag", action="append", default=[], help="wait for this DAG")
    args = parser.parse_args(argv)
    stop = False

    def interrupted(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, interrupted)
    try:
        with local_airflow(args.state_dir, wait_for=tuple(args.dag)) as airflow:
            print(f"Airflow is up: {airflow.url}  login {airflow.username}/{airflow.password}")
            print(f"logs: {airflow.log_dir}")
            while not stop:
                time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
