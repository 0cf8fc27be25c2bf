"""``--html``: the whole run in one self-contained HTML file, to attach to a ticket or a CI job.

One file, nothing to fetch: the styles are inline, the per-second charts are inline SVG
(:mod:`stress.svg_chart`, standard library only, so the runtime image writes them too), and the
latency plot of ``--plot`` is a base64 PNG data URI when matplotlib (the ``stress`` extra) is
installed. There is no JavaScript. Every figure comes from the JSON report (the same dict
``--report`` writes), and each figure's cell names the JSON field it shows
(``data-field="totals.committed"``), so the page can be checked against the JSON, by a test or
by a reader. Everything that came from the user or a node (run id, routing source, region names,
error causes, unreadable nodes' messages) is escaped.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from .plot import plotting_available, render_plot
from .results import OrderResult
from .svg_chart import Series, line_chart

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: 0.4em 0; }
th, td { border: 1px solid #ddd; padding: 3px 9px; text-align: right; }
th { background: #f3f3f3; } td.name, th.name { text-align: left; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 4px; color: #fff; }
.passed { background: #2e7d32; } .failed { background: #c62828; }
.ok { color: #2e7d32; } .missed { color: #c62828; font-weight: bold; }
.muted { color: #777; } code { font-size: 0.95em; } img, svg { max-width: 100%; }
"""


def figure_text(value: Any) -> str:
    """How a number is shown: integers as they are, other numbers to two decimals."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else ("yes" if value else "no")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _field(report: Mapping[str, Any], path: str) -> Any:
    value: Any = report
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


class _Page:
    """The HTML being written; figures are cells tied to the report field they show."""

    def __init__(self, report: Mapping[str, Any]):
        self.report = report
        self.parts: list[str] = []

    def add(self, html: str) -> None:
        self.parts.append(html)

    def cell(self, path: str, percent: bool = False) -> str:
        """A figure's cell; ``percent`` shows a fraction (0.995) as ``99.50%``."""
        value = _field(self.report, path)
        text = f"{value:.2%}" if percent and isinstance(value, float) else figure_text(value)
        return f'<td data-field="{escape(path)}">{escape(text)}</td>'

    def heading(self, text: str) -> None:
        self.add(f"<h2>{escape(text)}</h2>")

    def table(self, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
        """``rows`` hold ready cells (``<td>…</td>``); the header is plain text."""
        first, *rest = header
        head = f'<th class="name">{escape(first)}</th>' + "".join(
            f"<th>{escape(h)}</th>" for h in rest
        )
        body = "".join(f"<tr>{''.join(row)}</tr>" for row in rows)
        self.add(f"<table><tr>{head}</tr>{body}</table>")


def _name(text: Any) -> str:
    return f'<td class="name">{escape(str(text))}</td>'


def _text(text: Any) -> str:
    return f"<td>{escape(str(text))}</td>"


def _parameters(page: _Page) -> None:
    page.heading("Run parameters")
    rows = []
    for key, value in page.report["config"].items():
        shown = json.dumps(value) if isinstance(value, dict | list) else figure_text(value)
        rows.append((_name(key), f'<td class="name"><code>{escape(shown)}</code></td>'))
    page.table(("setting", "value"), rows)


def _summary(page: _Page) -> None:
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
    page.table(("figure", "value"), ((_name(label), cells) for label, cells in rows))


def _regions(page: _Page) -> None:
    report = page.report
    page.heading("Per home region")
    rows = []
    for region in report["by_home_region"]:
        base = f"by_home_region.{region}"
        rows.append(
            (
                _name(region),
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
                _name(node),
                page.cell(f"{base}.committed"),
                _text(share),
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


def _stages(page: _Page) -> None:
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
                _name(stage["stage"]),
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


def _verdict_cell(ok: bool) -> str:
    return '<td class="ok">ok</td>' if ok else '<td class="missed">MISSED</td>'


def _bars(page: _Page) -> None:
    report = page.report
    page.heading("Thresholds")
    rows = [
        (
            _name("success rate (at least)"),
            page.cell("min_success", percent=True),
            page.cell("success_rate", percent=True),
            _verdict_cell(report["success_rate"] >= report["min_success"]),
        )
    ]
    for index, bar in enumerate(report.get("thresholds") or []):
        rows.append(
            (
                _name(f"{bar['name']} (at most)"),
                page.cell(f"thresholds.{index}.limit"),
                page.cell(f"thresholds.{index}.value"),
                _verdict_cell(bool(bar["ok"])),
            )
        )
    page.table(("bar", "limit", "value", "verdict"), rows)
    if report["errors"]:
        page.heading("Errors by cause")
        page.table(
            ("cause", "orders"),
            ((_name(cause), _text(count)) for cause, count in report["errors"].items()),
        )


def _verification(page: _Page) -> None:
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
            (_name(key.replace("_", " ")), page.cell(f"verify.{key}"))
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
                _name(node),
                *(page.cell(f"{base}.{k}") for k in ("acknowledged", "stored", "lost")),
                *(page.cell(f"{base}.{k}") for k in ("unverified", "duplicated")),
                _text("could not read: " + unreadable if unreadable else "read"),
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


def _offered(report: Mapping[str, Any]) -> list[tuple[float, float]]:
    """The offered rate over time, as a step line (stages) or a flat one (``--rate``)."""
    config = report["config"]
    if report.get("stages"):
        points = [(s["start_s"], s["offered_per_s"]) for s in report["stages"]]
        last = report["stages"][-1]
        return [*points, (last["start_s"] + last["duration_s"], last["offered_per_s"])]
    if config.get("rate_per_s"):
        return [(0.0, config["rate_per_s"]), (report["duration_s"], config["rate_per_s"])]
    return []


def _charts(page: _Page, results: Sequence[OrderResult], title: str) -> None:
    report = page.report
    page.heading("Over time")
    by_t = {int(bucket["t"]): bucket for bucket in report["timeline"]}
    seconds = range(max(by_t, default=-1) + 1)
    buckets = [by_t.get(t, {}) for t in seconds]

    def line(key: str) -> list[tuple[float, float]]:
        return [(t + 0.5, float(b.get(key, 0))) for t, b in zip(seconds, buckets, strict=True)]

    series = [
        Series("committed/s", "#1565c0", line("committed")),
        Series("rejected/s", "#ef6c00", line("rejected")),
        Series("failed/s", "#c62828", line("failed")),
        Series("fallbacks/s", "#00838f", line("fallback"), dashed=True),
    ]
    offered = _offered(report)
    if offered:
        series.insert(0, Series("offered/s", "#777", offered, step=True, dashed=True))
    marks = [s["start_s"] for s in report.get("stages") or []][1:]
    page.add(line_chart(series, "time since start (s)", "orders per second", marks, "orders/s"))
    latency = [
        Series("p50 ms", "#2e7d32", line("p50_ms")),
        Series("p99 ms", "#6a1b9a", line("p99_ms")),
    ]
    page.add(line_chart(latency, "time since start (s)", "latency (ms)", marks, "latency"))
    page.heading("Latency of every order")
    if not plotting_available():
        page.add(
            '<p class="muted">the per-order plot needs matplotlib: '
            "pip install 'regional-orders[stress]'</p>"
        )
        return
    png = base64.b64encode(render_plot(results, title, "png")).decode("ascii")
    page.add(f'<img alt="latency of every order" src="data:image/png;base64,{png}">')


def render_html(report: Mapping[str, Any], results: Sequence[OrderResult], title: str) -> str:
    """The page for one run: ``report`` is the JSON report, ``results`` feed the plot."""
    page = _Page(report)
    passed = bool(report["passed"])
    verdict = "PASSED" if passed else "FAILED"
    page.add(f"<h1>{escape(title)}</h1>")
    page.add(
        f'<p><span class="verdict {"passed" if passed else "failed"}">{verdict}</span> '
        f"run <code>{escape(str(report['run_id']))}</code>, started "
        f"{escape(str(report['started_at']))}, {escape(str(report['target']))} target, "
        f"{escape(str(report['mode']))} loop</p>"
    )
    if report.get("interrupted"):
        page.add("<p><strong>interrupted</strong>: the figures cover the orders sent before it</p>")
    _summary(page)
    _bars(page)
    _stages(page)
    _regions(page)
    _verification(page)
    _charts(page, results, title)
    _parameters(page)
    body = "\n".join(page.parts)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def write_html(
    report: Mapping[str, Any], results: Sequence[OrderResult], path: Path, title: str
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report, results, title), encoding="utf-8")
