"""Contracts shared by every part: order schema, node health, routing document and decision.

This package is imported by the warehouse node, the controller, the stress tool and the Airflow
DAG. It lives inside ``dags/`` because the official Airflow image only mounts that folder, and it
depends on pydantic and the standard library only, so it imports everywhere the DAG can run.
"""

__version__ = "0.1.0"
