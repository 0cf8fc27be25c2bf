"""The in-doubt rule with read followers (issue 11): ask the home region's follower first.

An order is *in doubt* when a request to its home node may have reached it (the connection was
cut after the request went out; see :mod:`order_workflow_lib.delivery`). Today such an order is
never re-routed — a second region could store it twice — and waits for the home node to return.
With replication the home region's followers hold what the home node committed *and* the
replica confirmed, so they can settle the doubt while the home node is dead:

- a follower has the order → it is **placed at home**: the caller records it so, and sends it
  nowhere else (no fallback, so no duplicate);
- no follower has it (or none answers) → nothing is proven: a follower lags its replica, and in
  async mode the home may have committed an order the replica never got. Keep today's rule
  (never re-route an order that may have reached its home) and ask again on the next try.

Pure: the caller passes the lookup (it owns the HTTP client, its timeouts and its log), so the
DAG and the stress tool share this rule and cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum


class Lookup(StrEnum):
    """What one follower said about one order."""

    FOUND = "found"  # 200 for GET /order/{id}: the replica holds it
    ABSENT = "absent"  # 404: not (yet) on this follower's copy
    UNKNOWN = "unknown"  # unreachable, 5xx, follower not restored yet: says nothing


#: (follower base URL, order id) → what that follower says
FollowerLookup = Callable[[str, str], Lookup]
#: the same for asyncio callers (the stress tool)
AsyncFollowerLookup = Callable[[str, str], Awaitable[Lookup]]


@dataclass(frozen=True)
class InDoubtResolution:
    """The verdict for one in-doubt order at one try."""

    #: True: the order is stored at home; record it as placed there and stop
    placed_at_home: bool
    #: the follower that proved it (None when not proven)
    follower: str | None
    #: one line for the order's log and result
    reason: str


def resolve_in_doubt(
    order_id: str, home_region: str, read_urls: Iterable[str], lookup: FollowerLookup
) -> InDoubtResolution:
    """Ask the home region's followers (in the routing document's order) about ``order_id``.

    The first follower that has it settles it; followers after it are not asked. Without a
    ``FOUND`` the verdict is "still in doubt" and the caller keeps today's rule.
    """
    said: list[tuple[str, Lookup]] = []
    for url in read_urls:
        said.append((url, lookup(url, order_id)))
        if said[-1][1] is Lookup.FOUND:
            break
    return verdict(order_id, home_region, said)


async def resolve_in_doubt_async(
    order_id: str, home_region: str, read_urls: Iterable[str], lookup: AsyncFollowerLookup
) -> InDoubtResolution:
    """:func:`resolve_in_doubt` with an awaitable lookup (same order, same stop, same verdict)."""
    said: list[tuple[str, Lookup]] = []
    for url in read_urls:
        said.append((url, await lookup(url, order_id)))
        if said[-1][1] is Lookup.FOUND:
            break
    return verdict(order_id, home_region, said)


def verdict(order_id: str, home_region: str, said: list[tuple[str, Lookup]]) -> InDoubtResolution:
    """The rule: placed at home iff some follower found the order; else still in doubt."""
    for url, answer in said:
        if answer is Lookup.FOUND:
            return InDoubtResolution(
                True,
                url,
                f"order {order_id} is on {home_region}'s follower {url}: placed at home "
                "(the home node committed it before it went away; not sent anywhere else)",
            )
    asked = "; ".join(f"{url} {answer.value}" for url, answer in said)
    return InDoubtResolution(
        False,
        None,
        f"order {order_id} still in doubt ({asked or f'{home_region} has no serving follower'}); "
        "not re-routed, asked again on the next try",
    )


def lookup_from_status(status: int | None) -> Lookup:
    """A follower's HTTP status for ``GET /order/{id}`` → :class:`Lookup` (None: no answer).

    Only 200 proves presence and only 404 absence; anything else (the follower still
    restoring answers 503, a misrouted request 421) says nothing about the order.
    """
    if status == 200:
        return Lookup.FOUND
    if status == 404:
        return Lookup.ABSENT
    return Lookup.UNKNOWN
