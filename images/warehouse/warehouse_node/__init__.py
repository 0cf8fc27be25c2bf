"""The warehouse node: one region's order shard (FastAPI + a durable SQLite file).

Layout: ``settings`` (environment + flags), ``store`` (SQLite, knows nothing about HTTP),
``app`` (the FastAPI factory), ``routers/`` (one module per resource), ``cli`` (``warehouse-node``).
"""

from order_contracts.version import package_version

__version__ = package_version()
