"""One JSON log line per event, the same shape in every part.

Log aggregation (and a person running ``grep order_id``) should not need to know which part
wrote a line, so the node, the routing source and the other parts share this formatter: a line
is ``{"ts", "level", "logger", "event", <static fields>, <request fields>, <extra fields>,
"exc"?}``, where fields passed as ``extra={...}`` become top-level keys and the request fields
are the run id and trace id of the request being served (``order_contracts.tracing``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

from .tracing import log_context

# Attributes every LogRecord has; anything else was passed as ``extra=`` and is an event field.
# uvicorn adds ``color_message`` (the message with terminal colours): not for a JSON log.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; ``static`` fields (e.g. the node) go on every line."""

    def __init__(self, static: dict[str, Any] | None = None):
        super().__init__()
        self.static = static or {}
        self._second = -1
        self._second_text = ""

    def _timestamp(self, created: float) -> str:
        # A node logs on every request: format the second once, not per line.
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
            **log_context.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                event[key] = value
        if record.exc_info:
            event["exc"] = self.formatException(record.exc_info)
        return json.dumps(event, default=str, separators=(",", ":"))


def configure_json_logging(
    level: str | None = None, static: dict[str, Any] | None = None
) -> logging.Handler:
    """Route the root logger to stdout as JSON; level from the argument or ``LOG_LEVEL``."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(static))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or os.environ.get("LOG_LEVEL", "INFO")).upper())
    return handler
