"""The warehouse node: one region's order shard (FastAPI + a durable SQLite file).

Layout: ``settings`` (environment + flags), ``store`` (SQLite, knows nothing about HTTP),
``app`` (the FastAPI factory), ``routers/`` (one module per resource), ``cli`` (``warehouse-node``).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("regional-orders")
except PackageNotFoundError:  # a bare checkout on sys.path, not installed
    __version__ = "0.0.0+unknown"
