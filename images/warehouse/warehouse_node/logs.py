"""The node's logging: the shared JSON lines (``order_contracts.logs``), tuned for a hot path."""

from __future__ import annotations

import logging

from order_contracts.logs import configure_json_logging


def configure_logging(level: str, region: str) -> None:
    """JSON lines on stdout for our loggers and uvicorn's; level from ``LOG_LEVEL``."""
    # The logging HOWTO's "Optimization" settings: we print none of these record attributes,
    # and finding the caller's frame is the most expensive step of every log call.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    configure_json_logging(level, static={"node": region})
    # httpx logs each request at INFO: here that is every Litestream sync, not news.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
