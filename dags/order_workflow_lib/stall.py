"""Stop sending to a node, for the rest of a try, once a request to it went unanswered.

A frozen node (SIGSTOP, a hung disk, a partition that drops packets) accepts connections or
lets them hang, and every request to it waits the whole ``ORDER_NODE_TIMEOUT_SECONDS``. A batch
of 500 orders for such a node, sent ``ORDER_NODE_CONCURRENCY`` at a time, used to wait that
timeout once per round: minutes of one try spent learning the same thing. After the first
request that was sent, got no answer and waited out the timeout (outcome ``may_have_reached``,
no HTTP status, as long as the timeout: a reset or a refused connection costs no time, so it
does not count), the orders of that node not yet sent in this try stay pending with no
attempt, so nothing about them is in doubt: the next try sends them again (the node may be
back), and the last try may move them to a fallback (nothing was sent, so that cannot make a
duplicate). Requests already in flight end on their own.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

from order_contracts.outcomes import Delivery

from .delivery import Attempt

log = logging.getLogger(__name__)

#: an unanswered request that took this share of the timeout waited it out (timers differ a bit)
TIMED_OUT_SHARE = 0.9


class StallGuard:
    """Which nodes went unanswered in this try; thread-safe (nodes are served in parallel)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._stalled: dict[str, str] = {}  # node → the attempt's detail that stalled it
        self.held_back: Counter[str] = Counter()

    def note(self, attempt: Attempt, waited_s: float) -> None:
        """Record a request's attempt and how long it took (timed by the caller)."""
        unanswered = attempt["http_status"] is None
        timed_out = waited_s >= TIMED_OUT_SHARE * self.timeout
        if unanswered and timed_out and attempt["outcome"] == Delivery.MAY_HAVE_REACHED.value:
            with self._lock:
                self._stalled.setdefault(attempt["node"], attempt["detail"])

    def hold_back(self, node: str, orders: int = 1) -> bool:
        """Whether ``orders`` for ``node`` must not be sent now (counted when so)."""
        with self._lock:
            if node not in self._stalled:
                return False
            self.held_back[node] += orders
            return True

    def report(self) -> None:
        for node, held in sorted(self.held_back.items()):
            log.warning(
                "%s gave no answer in time (%s): %d order(s) not sent to it in this try, "
                "left pending for the next one",
                node,
                self._stalled[node],
                held,
            )
