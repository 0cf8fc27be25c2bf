"""The HTML report's building blocks: a page whose figure cells name the JSON field they show.

Every figure on the page goes through :meth:`Page.cell`, which reads it from the report by its
dotted path and writes that path into ``data-field``: the page cannot show a number the JSON
report does not hold, and a test (or a reader) can check one against the other. Every text is
escaped here, so the sections (:mod:`stress.html_sections`) never build raw HTML from input.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any


def figure_text(value: Any) -> str:
    """How a number is shown: integers as they are, other numbers to two decimals."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else ("yes" if value else "no")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def field_value(report: Mapping[str, Any], path: str) -> Any:
    """The report's value at a dotted ``path`` (list items by index), the one a cell names."""
    value: Any = report
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


class Page:
    """The HTML being written; figures are cells tied to the report field they show."""

    def __init__(self, report: Mapping[str, Any]):
        self.report = report
        self.parts: list[str] = []

    def add(self, html: str) -> None:
        self.parts.append(html)

    def cell(self, path: str, percent: bool = False) -> str:
        """A figure's cell; ``percent`` shows a fraction (0.995) as ``99.50%``."""
        value = field_value(self.report, path)
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


def name_cell(text: Any) -> str:
    """A left-aligned label cell (a row's name, not a figure)."""
    return f'<td class="name">{escape(str(text))}</td>'


def text_cell(text: Any) -> str:
    """A cell for text derived from figures (a share, a status), with no report field."""
    return f"<td>{escape(str(text))}</td>"


def verdict_cell(ok: bool) -> str:
    """A bar's verdict, coloured so a missed bar stands out in a long page."""
    return '<td class="ok">ok</td>' if ok else '<td class="missed">MISSED</td>'
