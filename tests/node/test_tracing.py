"""A node logs the sender's run id and trace id on the lines of that request.

Real node, real log file. What can fail: the ids missing from the order's line (the fast path
or the bulk route outside the middleware), a malformed ``traceparent`` logged as if valid, or
ids leaking onto the lines of a later request that carried none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from localmode.processes import wait_until
from order_contracts.tracing import RUN_ID_HEADER, TRACEPARENT_HEADER, trace_id_for, traceparent
from tests.conftest import NodeFactory
from tests.support.orders import order


def lines_about(log: Path, order_id: str) -> list[dict[str, Any]]:
    found = []
    for line in log.read_text().splitlines():
        if order_id in line and line.startswith("{"):
            found.append(json.loads(line))
    return found


def logged(log: Path, order_id: str) -> dict[str, Any]:
    wait_until(lambda: bool(lines_about(log, order_id)), 10, what=f"a log line for {order_id}")
    (line,) = lines_about(log, order_id)
    return line


def test_the_run_id_and_trace_id_are_on_the_order_s_log_line(node_factory: NodeFactory) -> None:
    node = node_factory("HCM")
    traced, bulk, malformed, plain = order(), order(), order(), order()
    run = "manual__2026-12-03T10:00:00+00:00"
    headers = {RUN_ID_HEADER: run, TRACEPARENT_HEADER: traceparent(run, "process-try-1")}
    with node.client() as http:
        assert http.post("/order", json=traced, headers=headers).status_code == 201
        assert http.post("/orders", json={"orders": [bulk]}, headers=headers).status_code == 200
        bad = {RUN_ID_HEADER: run, TRACEPARENT_HEADER: "00-" + "0" * 32 + "-" + "1" * 16 + "-01"}
        assert http.post("/order", json=malformed, headers=bad).status_code == 201
        assert http.post("/order", json=plain).status_code == 201

    line = logged(node.log_path, traced["order_id"])
    assert line["event"] == "order created"
    assert (line["run_id"], line["trace_id"]) == (run, trace_id_for(run))
    assert line["parent_span_id"] == headers[TRACEPARENT_HEADER].split("-")[2]
    wait_until(lambda: "bulk stored" in node.log_path.read_text(), 10, what="the bulk line")
    bulk_lines = [
        json.loads(text)
        for text in node.log_path.read_text().splitlines()
        if '"bulk stored"' in text
    ]
    assert [(b["run_id"], b["trace_id"]) for b in bulk_lines] == [(run, trace_id_for(run))]
    invalid = logged(node.log_path, malformed["order_id"])
    assert invalid["run_id"] == run and "trace_id" not in invalid  # an all-zero trace id
    untraced = logged(node.log_path, plain["order_id"])
    assert "run_id" not in untraced and "trace_id" not in untraced
