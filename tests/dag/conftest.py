"""Fixtures for the DAG's tests: a migrated Airflow database for ``dag.test()``, routing files.

Airflow reads its configuration once, when it is first imported, so the environment is set
here at import time (collection), before any test module imports ``airflow``. The database is
SQLite in a temporary ``AIRFLOW_HOME``: ``dag.test()`` runs tasks one at a time in this process,
so SQLite's single writer is enough (real Airflow with concurrent components uses PostgreSQL,
see ``tests/airflow``). Retry delays are 1 second, so retry paths run in seconds.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localmode.airflow import DAGS_FOLDER, airflow_command
from tests.conftest import RunningNode

# The controller tests' kmock cluster, for the ConfigMap contract test (test_routing_contract).
from tests.controller.conftest import cluster, kubeconfig  # noqa: F401
from tests.support.orders import write_routing

if str(DAGS_FOLDER) not in sys.path:
    sys.path.insert(0, str(DAGS_FOLDER))  # what Airflow does for the DAGs folder

_HOME = Path(tempfile.mkdtemp(prefix="orders-dag-tests-"))
atexit.register(shutil.rmtree, _HOME, True)

AIRFLOW_TEST_ENV = {
    "AIRFLOW_HOME": str(_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME}/airflow.db",
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
    # The DAG's own settings, read when the DAG file is parsed: short retries for tests.
    "ORDER_PROCESS_RETRIES": "3",
    "ORDER_RETRY_DELAY_SECONDS": "1",
    "ORDER_HEALTH_TIMEOUT_SECONDS": "1",
    "ORDER_NODE_TIMEOUT_SECONDS": "5",
    "NODE_API_TOKEN": "",
}
os.environ.update(AIRFLOW_TEST_ENV)


#: a migrated, empty Airflow database per Airflow version, shared by the xdist workers (and by
#: later runs on the same virtualenv): ``airflow db migrate`` takes 30-40 s on 2 cores, and
#: every worker that runs a DAG test module needs one
_MIGRATED_CACHE = Path(sys.prefix) / "airflow-test-db"


def _migrated_template() -> Path:
    """The cached migrated database, made under a file lock by whichever worker comes first."""
    import fcntl
    from importlib.metadata import version

    _MIGRATED_CACHE.mkdir(exist_ok=True)
    template = _MIGRATED_CACHE / f"airflow-{version('apache-airflow')}.db"
    with (_MIGRATED_CACHE / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not template.exists():
            home = Path(tempfile.mkdtemp(prefix="orders-dag-migrate-"))
            try:
                env = {
                    **os.environ,
                    "AIRFLOW_HOME": str(home),
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
                }
                log = home / "db-migrate.log"
                with log.open("wb") as out:
                    done = subprocess.run(
                        [*airflow_command(), "db", "migrate"],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=env,
                        check=False,
                    )
                tail = log.read_text()[-3000:]
                assert done.returncode == 0, f"airflow db migrate failed:\n{tail}"
                partial = template.with_suffix(".partial")
                shutil.copyfile(home / "airflow.db", partial)
                partial.rename(template)  # whole or absent: a killed run leaves no half file
            finally:
                shutil.rmtree(home, ignore_errors=True)
    return template


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated empty database in this session's ``AIRFLOW_HOME`` (a copy of the cached one);
    fails clearly if Airflow was configured earlier."""
    if "airflow.configuration" in sys.modules:
        from airflow.configuration import conf

        configured = conf.get("database", "sql_alchemy_conn")
        if configured != AIRFLOW_TEST_ENV["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]:
            pytest.fail(f"airflow was configured before tests/dag/conftest.py ran: {configured}")
    shutil.copyfile(_migrated_template(), _HOME / "airflow.db")
    return _HOME


@pytest.fixture(scope="session")
def order_dag(airflow_db: Path) -> Any:
    """The ``order_workflow`` DAG as Airflow parses it from the DAGs folder."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag("order_workflow")


@dataclass
class RunResult:
    state: str
    run_id: str
    tasks: dict[str, tuple[str, int]]  # task_id → (state, try_number)
    xcom: dict[str, Any] | None

    conf: dict[str, Any]

    @property
    def orders(self) -> list[dict[str, Any]]:
        """Per-order results, in conf order (a batch's XCom implies the usual ones: read back
        with the stress tool's reader, order_contracts.run_summary)."""
        from order_contracts.run_summary import per_order_results

        sent = self.conf.get("orders") or [self.conf.get("order")]
        keys = [
            (str(o.get("order_id")), str(o.get("region", "")).strip().upper())
            for o in sent
            if isinstance(o, dict)
        ]
        entries = per_order_results(self.xcom, keys)
        return [dict(entries[k]) for k, _ in keys if k in entries]

    def only_order(self) -> dict[str, Any]:
        assert len(self.orders) == 1, self.xcom
        return self.orders[0]


def run_dag(dag: Any, conf: dict[str, Any]) -> RunResult:
    """``dag.test()`` with ``conf``; the run's state, its task instances and process's XCom."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    run = dag.test(run_conf=conf, logical_date=None)
    with create_session() as session:
        instances = run.get_task_instances(session=session)
        tis = {ti.task_id: (str(ti.state), ti.try_number) for ti in instances}
        row = session.scalars(
            XComModel.get_many(
                run_id=run.run_id, key="return_value", task_ids="process", dag_ids=dag.dag_id
            )
        ).first()
        value = XComModel.deserialize_value(row) if row is not None else None
    return RunResult(state=str(run.state), run_id=run.run_id, tasks=tis, xcom=value, conf=conf)


@pytest.fixture
def routing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, three_nodes: dict[str, RunningNode]
) -> Iterator[Path]:
    """``ORDER_ROUTING_SOURCE`` → a file listing the three real nodes."""
    path = write_routing(tmp_path / "routing.json", {r: n.url for r, n in three_nodes.items()})
    monkeypatch.setenv("ORDER_ROUTING_SOURCE", str(path))
    yield path
