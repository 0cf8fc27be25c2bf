"""The HTML report and ``--stages``, against real nodes through the real CLI.

What can fail here: the HTML pulling in anything from outside (a script, a stylesheet, an image
file beside it), a figure on the page that is not the JSON's, user text reaching the page as
markup, a stage that does not send what it offers or whose achieved rate does not follow it,
and a bad stage spec ending in anything but exit 2 and one line naming the stage.
"""

from __future__ import annotations

import base64
import csv
import json
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from stress.html_report import render_html
from tests.stress.conftest import run_cli

STAGES = ((1.5, 40.0), (1.5, 160.0))


class Page(HTMLParser):
    """Every tag with its attributes, every ``data-field`` cell's text, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.fields: dict[str, list[str]] = {}
        self.text: list[str] = []
        self._field: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._field = dict(attrs).get("data-field")
        if self._field is not None:
            self.fields.setdefault(self._field, []).append("")

    def handle_endtag(self, tag: str) -> None:
        self._field = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._field is not None:
            self.fields[self._field][-1] += data


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def json_field(report: dict[str, Any], path: str) -> Any:
    value: Any = report
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def assert_self_contained(page: Page) -> None:
    names = {tag for tag, _ in page.tags}
    assert not names & {"script", "link", "iframe", "object", "embed"}, names
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            if name in {"src", "href", "srcset", "action", "poster"}:
                assert value and value.startswith(("data:", "#")), (tag, name, value)
            assert "://" not in (value or ""), (tag, name, value)  # nothing fetched from anywhere


def test_html_report_is_one_self_contained_file_with_the_json_figures(
    routing_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    html, report_path, results = out / "run.html", out / "run.json", out / "run.csv"
    spec = ",".join(f"{d}s:{r:g}" for d, r in STAGES)
    run = run_cli(
        *("--target", "nodes", "--routing", str(routing_file), "--stages", spec),
        *("--invalid-ratio", "0.05", "--verify", "--html", str(html), "--csv", str(results)),
        *("--max-p99", "5000", "--max-failed", "0", "--no-progress"),
        report=report_path,
    )
    assert run.code == 0, run.stderr + run.stdout
    assert f"html: {html}" in run.stdout
    assert sorted(p.name for p in out.iterdir()) == ["run.csv", "run.html", "run.json"]
    report = run.report
    assert report is not None

    page = parse(html.read_text(encoding="utf-8"))
    assert_self_contained(page)
    # every figure on the page is the JSON's, and the ones that matter are all there
    assert len(page.fields) > 60
    for path, texts in page.fields.items():
        value = json_field(report, path)
        assert isinstance(value, int | float), path
        for text in texts:
            shown, tolerance = float(text.rstrip("%")), 0.005  # two decimals
            if text.endswith("%"):
                shown, tolerance = shown / 100, 0.00005
            assert abs(shown - value) <= tolerance + 1e-9 * abs(value), (path, text, value)
    verify = report["verify"]
    expected = {
        "totals.orders", "totals.committed", "totals.failed", "totals.in_doubt",
        "success_rate", "latency_ms.p50", "latency_ms.p90", "latency_ms.p99", "min_success",
        "thresholds.0.value", "thresholds.1.value", "verify.lost", "verify.duplicated",
        "verify.unverified",
    }  # fmt: skip
    for region in report["by_home_region"]:
        expected |= {f"by_home_region.{region}.{k}" for k in ("sent", "committed", "in_doubt")}
        expected.add(f"by_home_region.{region}.latency_ms.p99")
    for node in report["by_warehouse"]:
        expected |= {f"by_warehouse.{node}.committed", f"by_warehouse.{node}.latency_ms.p99"}
    for node in verify["per_node"]:
        expected |= {f"verify.per_node.{node}.{k}" for k in ("lost", "duplicated", "unverified")}
    for index in range(len(STAGES)):
        expected |= {f"stages.{index}.{k}" for k in ("offered_per_s", "achieved_per_s", "failed")}
        expected.add(f"stages.{index}.latency_ms.p99")
    assert expected <= set(page.fields), expected - set(page.fields)
    assert verify["ok"] and sum(n["stored"] for n in verify["per_node"].values()) == sum(
        report["per_warehouse"].values()
    )
    # the plots are inline: SVG charts, and the per-order plot as a PNG data URI
    assert sum(tag == "svg" for tag, _ in page.tags) >= 2
    images = [attrs["src"] for tag, attrs in page.tags if tag == "img"]
    assert len(images) == 1 and images[0] and images[0].startswith("data:image/png;base64,")
    assert base64.b64decode(images[0].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"

    # stages: each sends what it offers, and what it achieves follows the offered rate
    stages = report["stages"]
    assert [(s["duration_s"], s["offered_per_s"]) for s in stages] == list(STAGES)
    for stage, (duration, rate) in zip(stages, STAGES, strict=True):
        assert stage["sent"] == round(duration * rate)
        assert stage["committed"] + stage["rejected"] == stage["sent"]
        assert 0.6 * rate <= stage["achieved_per_s"] <= 1.25 * rate, stage
    assert stages[1]["achieved_per_s"] > 2.5 * stages[0]["achieved_per_s"]
    with results.open(newline="") as rows:
        per_stage = Counter(row["stage"] for row in csv.DictReader(rows))
    assert per_stage == {str(s["stage"]): s["sent"] for s in stages}
    assert_user_text_is_escaped(report)


def assert_user_text_is_escaped(report: dict[str, Any]) -> None:
    """A cause, a routing source or a node's error text is shown as text, never as markup."""
    report = json.loads(json.dumps(report))
    hostile = '<script>alert("x")</script><img src="http://evil.example/x.png">'
    report["errors"] = {hostile: 3}
    report["config"]["routing"] = hostile
    node = next(iter(report["verify"]["per_node"]))
    report["verify"]["unreadable_nodes"] = {node: hostile}
    page = parse(render_html(report, [], f"title {hostile}"))
    assert_self_contained(page)
    assert sum(hostile in chunk for chunk in page.text) >= 4  # shown, as text


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ("10s:100,30x:500", "'30x:500' (stage 2)"),
        ("5s:fast", "'5s:fast' (stage 1)"),
        ("1s:0,2s:0", "no stage sends an order"),
    ],
)
def test_a_bad_stage_spec_exits_2_with_one_line_naming_it(spec: str, names: str) -> None:
    run = run_cli("--target", "nodes", "--routing", "/nonexistent", "--stages", spec)
    assert run.code == 2
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert names in run.stderr and "Traceback" not in run.stderr


def test_stages_exclude_rate_and_duration() -> None:
    run = run_cli("--target", "nodes", "--stages", "1s:10", "--rate", "10")
    assert run.code == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "--stages" in run.stderr and "--rate" in run.stderr
