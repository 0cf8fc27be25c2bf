"""Is this replica the active one? Read from the kopf peering object.

kopf pauses a replica's watches when it sees a live peer with a higher or equal priority. The
watch handlers therefore only ever run on the active replica, but the controller's periodic
repair loop is its own task and must ask. It applies kopf's rule to the peering object's
``status`` (one record per live operator: ``priority``, ``lastseen``, ``lifetime``).

The rule needs no identity: the replica's own record is the one live record with its priority;
a *second* record with that priority is a same-priority peer, and then kopf pauses both.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

#: kopf assumes this lifetime for a record that does not say
KOPF_DEFAULT_LIFETIME = 60


def _alive(record: Mapping[str, Any], now: datetime) -> bool:
    try:
        lastseen = datetime.fromisoformat(str(record["lastseen"]))
    except (KeyError, ValueError):
        return True  # kopf treats a record without a valid timestamp as seen just now
    if lastseen.tzinfo is None:
        lastseen = lastseen.replace(tzinfo=UTC)
    lifetime = timedelta(seconds=int(record.get("lifetime", KOPF_DEFAULT_LIFETIME)))
    return lastseen + lifetime > now


def is_active(
    peering: Mapping[str, Any] | None, priority: int, now: datetime | None = None
) -> bool:
    """True when kopf would let an operator with ``priority`` run, judging by ``peering``.

    A missing peering object means paused (kopf's mandatory peering waits for it), and so
    does a status without our own record yet (kopf starts paused until it has touched it).
    """
    if peering is None:
        return False
    now = now or datetime.now(UTC)
    status = peering.get("status") or {}
    live = [
        int(rec.get("priority", 0))
        for rec in status.values()
        if isinstance(rec, Mapping) and _alive(rec, now)
    ]
    if any(p > priority for p in live):
        return False
    return live.count(priority) == 1
