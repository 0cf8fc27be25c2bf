"""The process task's XCom (order_contracts.run_summary): small for a batch, yet every order's
result can be read back, the same way by the DAG's tests and the stress tool."""

from __future__ import annotations

from typing import Any

from order_contracts.run_summary import per_order_results, summarize

COMMITTED = {"created", "replayed", "placed_at_home"}


def result(order_id: str, home: str, node: str | None, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "home_region": home,
        "assigned_node": node,
        "fallback_used": node not in (None, home),
        "attempts": 1,
        "status": status,
        "committed_at": "2026-12-03T10:00:00.000+00:00",
        "reason": "",
        "detail": "",
        **extra,
    }


def test_a_batch_summary_names_only_the_orders_that_need_a_word() -> None:
    results = [result(f"u{i}", "HCM", "HCM", "created") for i in range(100)] + [
        result("fb", "HCM", "DN", "created"),
        result("again", "HN", "HN", "replayed"),
        result("slow", "HN", "HN", "created", attempts=3),
        result("lost", "DN", "DN", "ambiguous", detail="ReadTimeout"),
        result("bad", None, None, "invalid"),  # type: ignore[arg-type]
    ]
    summary = summarize("batch", results, COMMITTED, "created")
    assert summary["counts"] == {"created": 102, "replayed": 1, "ambiguous": 1, "invalid": 1}
    assert set(summary["notable"]) == {"fb", "again", "slow"}
    assert [r["order_id"] for r in summary["undelivered"]] == ["lost", "bad"]
    assert summary["nodes"]["HCM"]["orders"] == 100 and summary["nodes"]["DN"]["orders"] == 1

    homes = [(r["order_id"], r["home_region"] or "HCM") for r in results]
    back = per_order_results(summary, homes)
    assert set(back) == {r["order_id"] for r in results}
    assert back["u7"]["status"] == "created" and back["u7"]["assigned_node"] == "HCM"
    assert (back["fb"]["assigned_node"], back["fb"]["fallback_used"]) == ("DN", True)
    assert back["again"]["status"] == "replayed"
    assert back["slow"]["attempts"] == 3
    assert back["lost"]["detail"] == "ReadTimeout"
    assert back["u7"]["committed_at"] == "2026-12-03T10:00:00.000+00:00"


def test_an_order_the_summary_cannot_account_for_is_left_out() -> None:
    summary = summarize("batch", [result("a", "HCM", "HCM", "created")], COMMITTED, "created")
    back = per_order_results(summary, [("a", "HCM"), ("never-processed", "HN")])
    assert set(back) == {"a"}


def test_a_single_order_run_keeps_its_full_result() -> None:
    one = result("solo", "HN", "DN", "created", reason="HN unreachable")
    summary = summarize("single", [one], COMMITTED, "created")
    assert summary["orders"] == [one]
    assert per_order_results(summary, [("solo", "HN")]) == {"solo": one}
    assert per_order_results(None, [("solo", "HN")]) == {}


def test_an_order_asked_for_under_another_id_than_the_dags_is_not_vouched_for() -> None:
    # Found by the Airflow fault campaign: the stress tool asked for an invalid order under its
    # own id while the DAG had refused it under the payload's ("... has spaces"), and the
    # reader filled it in as committed at home: the checker then reported it lost.
    results = [result(f"ok{i}", "HN", "HN", "created") for i in range(3)]
    results.append(result("x has spaces", None, None, "invalid"))  # type: ignore[arg-type]
    summary = summarize("batch", results, COMMITTED, "created")
    asked = [(f"ok{i}", "HN") for i in range(3)] + [("x", "HN")]
    back = per_order_results(summary, asked)
    # HN committed 3: four orders cannot all be its usual case, so none of them is vouched for
    # (the refused one is listed under the DAG's id only)
    assert set(back) == {"x has spaces"}
    assert set(per_order_results(summary, [*asked[:3], ("x has spaces", "HN")])) == {
        "ok0",
        "ok1",
        "ok2",
        "x has spaces",
    }
