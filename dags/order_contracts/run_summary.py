"""The process task's return value (XCom): what the DAG writes and the stress tool reads.

A batch run carries up to ``ORDER_MAX_BATCH`` orders; a full per-order result for each (~300
bytes) would make the XCom the biggest write of the run, for the api-server and its database
alike. So a batch's value holds the counts and only the orders that need a word:

- ``counts``: orders per final status;
- ``nodes``: per warehouse, how many orders it committed and the latest commit time;
- ``notable``: committed orders that differ from the usual case (committed on their home
  warehouse, at the first attempt, with status ``usual_status``): ``{order_id: {"node",
  "status", "attempts"}}`` — fallbacks, retries, replays;
- ``undelivered``: the full per-order result of every order not committed (invalid, refused,
  in doubt, failed...).

A single-order run keeps its one full result under ``orders``: it is small, and callers of the
per-order mode read everything from it. :func:`per_order_results` turns either shape back into
per-order results, given the orders' home regions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from typing import Any

SINGLE = "single"


def summarize(
    mode: str,
    results: list[dict[str, Any]],
    committed: Collection[str],
    usual_status: str,
) -> dict[str, Any]:
    """The XCom for ``results`` (the DAG's per-order results); ``committed`` are the statuses of
    stored orders, ``usual_status`` the one of an order stored now."""
    counts = dict(Counter(str(r["status"]) for r in results))
    if mode == SINGLE:
        return {"mode": mode, "counts": counts, "orders": results}
    nodes: dict[str, dict[str, Any]] = {}
    notable: dict[str, dict[str, Any]] = {}
    undelivered: list[dict[str, Any]] = []
    for r in results:
        status = str(r["status"])
        if status not in committed:
            undelivered.append(r)
            continue
        node = str(r["assigned_node"])
        entry = nodes.setdefault(node, {"orders": 0, "last_committed_at": None})
        entry["orders"] += 1
        at = r.get("committed_at")
        if at and (entry["last_committed_at"] is None or at > entry["last_committed_at"]):
            entry["last_committed_at"] = at
        attempts = int(r.get("attempts") or 0)
        if node != r["home_region"] or attempts != 1 or status != usual_status:
            notable[str(r["order_id"])] = {"node": node, "status": status, "attempts": attempts}
    return {
        "mode": mode,
        "counts": counts,
        "usual_status": usual_status,
        "nodes": nodes,
        "notable": notable,
        "undelivered": undelivered,
    }


def per_order_results(
    value: Any, orders: Iterable[tuple[str, str]]
) -> dict[str, Mapping[str, Any]]:
    """``order_id → per-order result`` from a summary (either shape), for ``orders`` given as
    ``(order_id, home_region)``. An order the summary does not mention is absent from the answer
    when the summary has no ``counts`` of committed orders to account for it."""
    if not isinstance(value, Mapping):
        return {}
    listed = value.get("orders")
    if isinstance(listed, list):
        return {str(e["order_id"]): e for e in listed if isinstance(e, Mapping) and "order_id" in e}
    undelivered = value.get("undelivered")
    if not isinstance(undelivered, list):
        return {}
    out: dict[str, Mapping[str, Any]] = {
        str(e["order_id"]): e for e in undelivered if isinstance(e, Mapping) and "order_id" in e
    }
    nodes = _mapping(value.get("nodes"))
    notable = _mapping(value.get("notable"))
    usual = str(value.get("usual_status") or "")
    # Orders the summary does not name are the usual case of their home node, but only as many
    # as that node's count leaves after its notable orders: an order the caller knows under
    # another id than the DAG (or one the run never saw) must come out absent, not committed.
    implied: dict[str, list[str]] = {}
    for order_id, home in orders:
        if order_id in out:
            continue
        special = _mapping(notable.get(order_id)) or None
        node = str(special["node"]) if special else home
        if not special:
            if node in nodes:
                implied.setdefault(node, []).append(order_id)
            continue  # not in nodes: neither delivered nor undelivered, the run did not process it
        out[order_id] = _entry(order_id, home, node, special, usual, nodes)
    for node, order_ids in implied.items():
        named = sum(1 for e in notable.values() if str(_mapping(e).get("node")) == node)
        if len(order_ids) > int(_mapping(nodes.get(node)).get("orders") or 0) - named:
            continue  # more orders than the node committed: none of them can be vouched for
        for order_id in order_ids:
            out[order_id] = _entry(order_id, node, node, None, usual, nodes)
    return out


def _entry(
    order_id: str,
    home: str,
    node: str,
    special: Mapping[str, Any] | None,
    usual: str,
    nodes: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "home_region": home,
        "assigned_node": node,
        "fallback_used": node != home,
        "attempts": int(special["attempts"]) if special else 1,
        "status": str(special["status"]) if special else usual,
        "committed_at": _mapping(nodes.get(node)).get("last_committed_at"),
    }


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
