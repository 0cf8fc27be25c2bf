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

from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from .html_charts import charts
from .html_page import Page
from .html_sections import bars, parameters, regions, stages, summary, verification
from .results import OrderResult

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


def render_html(report: Mapping[str, Any], results: Sequence[OrderResult], title: str) -> str:
    """The page for one run: ``report`` is the JSON report, ``results`` feed the plot."""
    page = Page(report)
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
    summary(page)
    bars(page)
    stages(page)
    regions(page)
    verification(page)
    charts(page, results, title)
    parameters(page)
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
