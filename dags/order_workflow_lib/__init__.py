"""The order workflow's logic, kept apart from the DAG file so it is plain, testable Python.

``order_workflow.py`` only wires these functions into Airflow tasks. Like ``order_contracts``,
this package sits in ``dags/`` (the official Airflow image mounts only that folder) and imports
nothing beyond what that image has: the standard library, pydantic, httpx and the contracts.

- ``settings`` — the ``ORDER_*`` environment settings, with defaults;
- ``intake`` — the run's conf → validated orders and per-order rejections (ingest);
- ``assignment`` — routing document + memoized ``/health`` probes → a decision per region;
- ``delivery`` — one ``POST /order`` and what its outcome proves (delivered or not);
- ``progress`` — what happened to each order across task tries, and the re-routing rule;
- ``rerouting`` — assigning a pending order on a retry, moving it off a down node on the last;
- ``sending`` — a try's requests to the nodes (per-node concurrency, bulk when a node takes it);
- ``outcome`` — what a try reports: per-order results and the orders that need a word;
- ``processing`` — one try of the process task over all pending orders (uses the three above).
"""
