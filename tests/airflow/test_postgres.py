"""The private PostgreSQL cluster Airflow's metadata lives in (local mode, benchmarks)."""

from __future__ import annotations

from pathlib import Path

import psycopg2  # type: ignore[import-untyped]
import pytest

from localmode.postgres import PostgresCluster


def test_a_private_cluster_serves_the_airflow_database_with_its_password_only(
    tmp_path: Path,
) -> None:
    cluster = PostgresCluster(tmp_path / "logs")
    with cluster:
        root = cluster.root
        assert root is not None and root.is_dir()
        with psycopg2.connect(cluster.dsn) as conn, conn.cursor() as cur:
            cur.execute("SELECT current_database(), inet_server_port()")
            assert cur.fetchone() == ("airflow", cluster.port)
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            psycopg2.connect(cluster.dsn.replace(cluster.password, "wrong"))

    assert not root.exists()  # remove() deletes the data directory
    assert cluster.process is not None and not cluster.process.running()
