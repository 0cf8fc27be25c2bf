"""A private PostgreSQL cluster for Airflow's metadata database (local mode, tests, benchmarks).

Airflow on SQLite fails with "database is locked" as soon as the scheduler, the api-server and
the task processes write at once, so local mode makes its own throwaway cluster with the
machine's PostgreSQL ``initdb`` on a free port, listening on 127.0.0.1 only, with a generated
password. PostgreSQL refuses to run as root, so when we are root every server command runs as
the ``postgres`` user (``runuser -u postgres --``) and the data directory is a fresh directory
that user owns (under ``/tmp`` unless ``base_dir`` says otherwise: a pytest ``tmp_path`` is
mode 0700 and the ``postgres`` user could not even enter it).

Settings (environment):

* ``PG_BINDIR`` — where ``initdb``/``postgres``/``pg_ctl`` are (default: the newest
  ``/usr/lib/postgresql/*/bin``, else ``PATH``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .processes import ManagedProcess, free_port, wait_until

SERVER_USER = "postgres"
DATABASE = "airflow"
ROLE = "airflow"

#: Server settings for a disposable metadata database. ``synchronous_commit=off`` keeps
#: crash-safety (no corruption) but may lose the last few milliseconds of commits on an OS crash,
#: which is fine for a local Airflow and makes the scheduler's many small commits much cheaper.
SERVER_SETTINGS: dict[str, str] = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "300",
    "shared_buffers": "128MB",
    "synchronous_commit": "off",
    "log_min_messages": "warning",
    "log_min_duration_statement": "-1",
}


class PostgresError(RuntimeError):
    """The cluster could not be created or started; the message says which step and why."""


def find_bindir() -> Path:
    """The directory holding ``initdb``, ``postgres`` and ``pg_ctl``."""
    configured = os.environ.get("PG_BINDIR", "").strip()
    if configured:
        return Path(configured)

    def major(initdb: str) -> int:
        version = Path(initdb).parent.parent.name
        return int(version) if version.isdigit() else 0

    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=major)
    if versions:
        return Path(versions[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise PostgresError(
        "PostgreSQL is not installed (no initdb found): run `sudo apt-get install postgresql` "
        "or set PG_BINDIR to the directory that holds initdb"
    )


def _as_root() -> bool:
    return os.geteuid() == 0


def _as_server_user(argv: Sequence[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *argv] if _as_root() else list(argv)


def _psycopg2() -> Any:
    """psycopg2, imported when a database is used: it comes with the ``airflow`` extra, and
    ``orders-demo --help`` (which imports this module) must work without it."""
    try:
        import psycopg2  # type: ignore[import-untyped]  # the airflow extra (postgres provider)
    except ImportError:
        raise PostgresError(
            "psycopg2 is missing: install the Airflow extra "
            "(pip install 'regional-orders[airflow]')"
        ) from None
    return psycopg2


class PostgresCluster:
    """One private cluster: ``create()`` once, ``start()``/``stop()`` as often as needed.

    ``url`` is the SQLAlchemy URL Airflow needs (psycopg2 driver, the ``airflow`` database).
    """

    def __init__(
        self,
        log_dir: Path,
        base_dir: Path | None = None,
        port: int | None = None,
        settings: dict[str, str] | None = None,
    ):
        self.log_dir = Path(log_dir)
        self.base_dir = base_dir
        self.port = port or free_port()
        self.password = secrets.token_urlsafe(18)
        self.settings = SERVER_SETTINGS | dict(settings or {})
        self.bindir = find_bindir()
        self.root: Path | None = None
        self.process: ManagedProcess | None = None

    @property
    def data_dir(self) -> Path:
        if self.root is None:
            raise PostgresError("the cluster has not been created yet: call create() first")
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{ROLE}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def dsn(self) -> str:
        """libpq connection string (for psycopg2 directly)."""
        credentials = f"user={ROLE} password={self.password} dbname={DATABASE}"
        return f"host=127.0.0.1 port={self.port} {credentials}"

    def _run(self, argv: Sequence[str], what: str) -> None:
        log = self.log_dir / "postgres-setup.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            result = subprocess.run(
                _as_server_user(argv), stdout=out, stderr=subprocess.STDOUT, check=False
            )
        if result.returncode != 0:
            raise PostgresError(f"{what} failed (exit {result.returncode}); see {log}")

    def create(self) -> PostgresCluster:
        """``initdb`` a new cluster in a directory the server user owns."""
        base = self.base_dir or Path(tempfile.gettempdir())
        base.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="orders-pg-", dir=base))
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if _as_root():
            user = pwd.getpwnam(SERVER_USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        self.root.chmod(0o700)
        self._run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                ROLE,
                "--pwfile",
                str(pwfile),
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            "initdb",
        )
        pwfile.unlink()
        return self

    def start(self, timeout: float = 60.0) -> PostgresCluster:
        """Start the server in the foreground of a managed process and create the database."""
        if self.root is None:
            self.create()
        argv = [str(self.bindir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        # The socket goes into the data directory: /var/run/postgresql may not exist or be ours.
        options = self.settings | {"unix_socket_directories": str(self.data_dir)}
        for key, value in options.items():
            argv += ["-c", f"{key}={value}"]
        self.process = ManagedProcess(
            "postgres", _as_server_user(argv), self.log_dir / "postgres.log", cwd=self.root
        )
        self.process.start()
        wait_until(self._accepts_connections, timeout, 0.2, f"postgres on port {self.port}")
        self._ensure_database()
        return self

    def _connect(self, dbname: str) -> Any:
        psycopg2 = _psycopg2()
        return psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=ROLE,
            password=self.password,
            dbname=dbname,
            connect_timeout=2,
        )

    def _accepts_connections(self) -> bool:
        if self.process is not None and not self.process.running():
            raise PostgresError(f"postgres exited during start-up; see {self.process.log_path}")
        try:
            conn = self._connect("postgres")
        except _psycopg2().OperationalError:
            return False
        conn.close()
        return True

    def _ensure_database(self) -> None:
        conn = self._connect("postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            conn.close()

    def stop(self, grace: float = 20.0) -> None:
        """Fast shutdown (disconnects clients, then a clean checkpoint)."""
        if self.process is None or not self.process.running():
            return
        with contextlib.suppress(PostgresError):
            self._run(
                [str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast"],
                "pg_ctl stop",
            )
        self.process.stop(grace)

    def remove(self) -> None:
        """Stop the server and delete its files."""
        self.stop()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.remove()
