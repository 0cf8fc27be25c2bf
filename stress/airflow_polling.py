"""When a failed request to Airflow is worth asking again, and how long to wait before it.

One failed poll says nothing about a run (an api-server restarting, a busy machine, a dropped
connection), so every part that follows runs — both clients' ``wait_run``, the run watcher and
the stress tool's Airflow target — repeats the same failures with the same backoff; the rule is
here once.
"""

from __future__ import annotations

import httpx

from .airflow_rest import AirflowAPIError

#: DAG run states after which nothing more will happen
FINISHED_STATES = frozenset({"success", "failed"})
#: answers to a poll that say "ask again later", not "this run is unknown": an api-server
#: restarting, overloaded or behind a proxy that lost it
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: longest pause between two polls of a run after failed ones (the pause doubles up to this)
MAX_POLL_BACKOFF_S = 5.0


def transient(exc: BaseException) -> bool:
    """A failed poll worth repeating: no answer at all, or an answer that says "later"."""
    if isinstance(exc, AirflowAPIError):
        return exc.status in TRANSIENT_STATUSES
    return isinstance(exc, httpx.TransportError)


def poll_pause(interval: float, failures: int) -> float:
    """The pause before the next poll: ``interval``, doubled per failed poll in a row."""
    return min(MAX_POLL_BACKOFF_S, interval * (2 ** min(failures, 16)))
