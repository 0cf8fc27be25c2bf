"""The process task's per-order results in its log: every order once, in few log calls."""

from __future__ import annotations

import json

from order_workflow_lib.outcome import RESULTS_PER_LOG_LINE, TryOutcome


def results(n: int) -> list[dict[str, object]]:
    return [{"order_id": f"o{i}", "status": "committed", "assigned_node": "HN"} for i in range(n)]


def test_a_batch_logs_every_result_once_in_arrays_of_a_bounded_size() -> None:
    outcome = TryOutcome(results=results(2 * RESULTS_PER_LOG_LINE + 50))
    lines = outcome.log_lines()
    assert len(lines) == 3
    chunks = [json.loads(line) for line in lines]
    assert all(isinstance(chunk, list) for chunk in chunks)
    assert [len(c) for c in chunks] == [RESULTS_PER_LOG_LINE, RESULTS_PER_LOG_LINE, 50]
    ids = [r["order_id"] for chunk in chunks for r in chunk]
    assert ids == [f"o{i}" for i in range(2 * RESULTS_PER_LOG_LINE + 50)]


def test_one_order_is_logged_as_its_result_object() -> None:
    (line,) = TryOutcome(results=results(1)).log_lines()
    assert json.loads(line) == {"order_id": "o0", "status": "committed", "assigned_node": "HN"}
