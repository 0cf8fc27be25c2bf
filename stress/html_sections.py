"""The HTML report's tables: summary, thresholds, stages, regions, verification, parameters.

One function per section of the page (:func:`stress.html_report.render_html` puts them in
order), each a table of :mod:`stress.html_page` cells over one part of the JSON report.
"""

from __future__ import annotations

import json
from html import escape

from .html_page import Page, figure_text, name_cell, text_cell, verdict_cell


def parameters(page: Page) -> None:
    page.heading("Run parameters")
    rows = []
    for key, value in page.report["config"].items():
        shown = json.dumps(value) if isinstance(value, dict | list) else figure_text(value)
        rows.append((name_cell(key), f'<td class="name"><code>{escape(shown)}</code></td>'))
    page.table(("setting", "value"), rows)


def summary(page: Page) -> None:
    report = page.report
    page.heading("Summary")
    rows = [
        ("orders sent", page.cell("totals.orders")),
        ("valid", page.cell("totals.valid")),
        ("invalid on purpose", page.cell("totals.invalid")),
        ("committed on a warehouse", page.cell("totals.committed")),
        ("rejected (refused by a node)", page.cell("totals.rejected")),
        ("failed", page.cell("totals.failed")),
        ("in doubt (failed, may be stored)", page.cell("totals.in_doubt")),
        ("invalid orders refused", page.cell("totals.invalid_rejected")),
        ("success rate", page.cell("success_rate", percent=True)),
        ("duration (s)", page.cell("duration_s")),
        ("throughput (orders/s)", page.cell("throughput_per_s")),
        ("committed per second", page.cell("committed_per_s")),
        ("fallbacks used", page.cell("fallbacks.count")),
    ]
    if "accepted_by_airflow" in report["totals"]:
        rows.insert(1, ("accepted by Airflow", page.cell("totals.accepted_by_airflow")))
    for key in ("p50", "p90", "p99", "max", "mean"):
        rows.append((f"latency {key} (ms)", page.cell(f"latency_ms.{key}")))
    if report.get("airflow_accept_latency_ms"):
        for key in ("p50", "p99"):
            label = f"Airflow accept {key} (ms)"
            rows.append((label, page.cell(f"airflow_accept_latency_ms.{key}")))
    if report["mode"] == "open":
        rows.append(("sent behind schedule p99 (ms)", page.cell("send_lag_ms.p99")))
    page.table(("figure", "value"), ((name_cell(label), cells) for label, cells in rows))


def regions(page: Page) -> None:
    report = page.report
    page.heading("Per home region")
    rows = []
    for region in report["by_home_region"]:
        base = f"by_home_region.{region}"
        rows.append(
            (
                name_cell(region),
                *(page.cell(f"{base}.{k}") for k in ("sent", "committed", "rejected")),
                *(page.cell(f"{base}.{k}") for k in ("failed", "in_doubt")),
                *(page.cell(f"{base}.latency_ms.{p}") for p in ("p50", "p90", "p99")),
            )
        )
    page.table(
        ("home region", "sent", "committed", "rejected", "failed", "in doubt", "p50 ms", "p90 ms",
         "p99 ms"),
        rows,
    )  # fmt: skip
    page.heading("Per warehouse (node)")
    committed = report["totals"]["committed"]
    rows = []
    for node, figures in report["by_warehouse"].items():
        base = f"by_warehouse.{node}"
        share = f"{figures['committed'] / committed:.1%}" if committed else "-"
        rows.append(
            (
                name_cell(node),
                page.cell(f"{base}.committed"),
                text_cell(share),
                page.cell(f"{base}.fallback"),
                *(page.cell(f"{base}.latency_ms.{p}") for p in ("p50", "p90", "p99")),
            )
        )
    page.table(
        ("warehouse", "committed", "share", "of them fallbacks", "p50 ms", "p90 ms", "p99 ms"), rows
    )
    if report["fallbacks"]["routes"]:
        routes = ", ".join(f"{k}: {v}" for k, v in report["fallbacks"]["routes"].items())
        page.add(f"<p>fallback routes: {escape(routes)}</p>")


def stages(page: Page) -> None:
    stages = page.report.get("stages")
    if not stages:
        return
    page.heading("Stages")
    keys = ("start_s", "duration_s", "offered_per_s", "sent_per_s", "achieved_per_s", "sent")
    more = ("committed", "failed", "in_doubt")
    rows = []
    for index, stage in enumerate(stages):
        base = f"stages.{index}"
        rows.append(
            (
                name_cell(stage["stage"]),
                *(page.cell(f"{base}.{k}") for k in (*keys, *more)),
                *(page.cell(f"{base}.latency_ms.{p}") for p in ("p50", "p99")),
            )
        )
    page.table(
        ("stage", "start s", "duration s", "offered /s", "sent /s", "achieved /s", "sent",
         "committed", "failed", "in doubt", "p50 ms", "p99 ms"),
        rows,
    )  # fmt: skip
    page.add(
        '<p class="muted">achieved: orders committed while the stage ran, per second of it; '
        "the other figures count the orders sent in the stage.</p>"
    )


def bars(page: Page) -> None:
    report = page.report
    page.heading("Thresholds")
    rows = [
        (
            name_cell("success rate (at least)"),
            page.cell("min_success", percent=True),
            page.cell("success_rate", percent=True),
            verdict_cell(report["success_rate"] >= report["min_success"]),
        )
    ]
    for index, bar in enumerate(report.get("thresholds") or []):
        rows.append(
            (
                name_cell(f"{bar['name']} (at most)"),
                page.cell(f"thresholds.{index}.limit"),
                page.cell(f"thresholds.{index}.value"),
                verdict_cell(bool(bar["ok"])),
            )
        )
    page.table(("bar", "limit", "value", "verdict"), rows)
    if report["errors"]:
        page.heading("Errors by cause")
        page.table(
            ("cause", "orders"),
            ((name_cell(cause), text_cell(count)) for cause, count in report["errors"].items()),
        )


def verification(page: Page) -> None:
    verify = page.report.get("verify")
    page.heading("Verification")
    if verify is None:
        page.add('<p class="muted">not asked for (--verify)</p>')
        return
    word = "ok" if verify["ok"] else "FAILED"
    page.add(
        f'<p>shards read back: <span class="{"ok" if verify["ok"] else "missed"}">{word}</span></p>'
    )
    keys = ("acknowledged", "found_exactly_once", "lost", "unverified", "duplicated", "misplaced")
    page.table(
        ("figure", "orders"),
        (
            (name_cell(key.replace("_", " ")), page.cell(f"verify.{key}"))
            for key in (*keys, "refused_but_stored", "unacknowledged_but_stored")
        ),
    )
    per_node = verify.get("per_node") or {}
    rows = []
    for node in per_node:
        base = f"verify.per_node.{node}"
        unreadable = verify["unreadable_nodes"].get(node)
        rows.append(
            (
                name_cell(node),
                *(page.cell(f"{base}.{k}") for k in ("acknowledged", "stored", "lost")),
                *(page.cell(f"{base}.{k}") for k in ("unverified", "duplicated")),
                text_cell("could not read: " + unreadable if unreadable else "read"),
            )
        )
    if rows:
        page.table(
            ("node", "acknowledged", "stored", "lost", "unverified", "duplicated", "shard"), rows
        )
    for node, why in verify["unreadable_nodes"].items():
        if node not in per_node:
            page.add(f"<p>could not read {escape(node)}: {escape(why)}</p>")
    for kind, ids in verify["samples"].items():
        if ids:
            page.add(f"<p>{escape(kind)} (first ones): <code>{escape(', '.join(ids))}</code></p>")
