"""One JSON object per line for every log event, so logs can be searched by order_id/region."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

# Attributes every LogRecord has; anything else was passed as ``extra=`` and is an event field.
# uvicorn adds ``color_message`` (the message with terminal colours): not for a JSON log.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "event", <static fields>, <extra fields>, "exc"?}``."""

    def __init__(self, static: dict[str, Any] | None = None):
        super().__init__()
        self.static = static or {}
        self._second = -1
        self._second_text = ""

    def _timestamp(self, created: float) -> str:
        # An order is logged on every request: format the second once, not per line.
        second = int(created)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            **self.static,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                event[key] = value
        if record.exc_info:
            event["exc"] = self.formatException(record.exc_info)
        return json.dumps(event, default=str, separators=(",", ":"))


def configure_logging(level: str, region: str) -> None:
    """JSON lines on stdout for our loggers and uvicorn's; level from ``LOG_LEVEL``."""
    # The logging HOWTO's "Optimization" settings: we print none of these record attributes,
    # and finding the caller's frame is the most expensive step of every log call.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter({"node": region}))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
