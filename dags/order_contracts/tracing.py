"""Following one order across parts: the DAG run id and a W3C ``traceparent`` on node requests.

The DAG's process task sends both headers with every request to a node; the node puts the run
id and the trace id on every log line of that request (``order_contracts.logs`` reads
:data:`log_context`). So ``grep <trace id>`` (or the run id) over the task log and the nodes'
logs gives one order's whole path, without a tracing backend. The trace id is derived from the
run id (one trace per DAG run, the same on every try), so it can be computed from the run id
alone; each try is its own span. A collector that speaks W3C Trace Context (OpenTelemetry) can
pick the header up as is.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from contextvars import ContextVar

#: W3C Trace Context header (https://www.w3.org/TR/trace-context/)
TRACEPARENT_HEADER = "traceparent"
#: the DAG run an order travels in
RUN_ID_HEADER = "x-order-run-id"
#: longest run id a node logs (Airflow's own limit is 250)
MAX_RUN_ID = 250

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")

#: fields every log line of the current request carries (set by the node's middleware)
log_context: ContextVar[Mapping[str, str]] = ContextVar("order_log_context", default={})  # noqa: B039 (never mutated)


def _hex(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def trace_id_for(run_id: str) -> str:
    """The trace id of a DAG run: 32 hex digits, the same for every try."""
    return _hex(run_id, 32)


def traceparent(run_id: str, span: str) -> str:
    """``traceparent`` for a request of ``run_id``; ``span`` names the sender (e.g. the try)."""
    return f"00-{trace_id_for(run_id)}-{_hex(f'{run_id}/{span}', 16)}-01"


def parse_traceparent(value: str) -> tuple[str, str] | None:
    """``(trace_id, parent_id)`` of a valid version-00 header, else None (all-zero ids are
    invalid by the spec)."""
    match = _TRACEPARENT.match(value.strip().lower())
    if match is None or set(match[1]) == {"0"} or set(match[2]) == {"0"}:
        return None
    return match[1], match[2]


def node_request_headers(token: str | None, run_id: str | None, span: str) -> dict[str, str]:
    """The headers of every request the DAG sends a node: the token, the run id, the trace."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if run_id:
        headers[RUN_ID_HEADER] = run_id
        headers[TRACEPARENT_HEADER] = traceparent(run_id, span)
    return headers
