"""What the demo prints: numbered steps, and the summary of both phases and the outage."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from .demo_options import DemoFailed
from .prometheus import run_answers

if TYPE_CHECKING:
    from .demo_disk_loss import DiskLoss
    from .demo_story import DemoResult

console = Console(highlight=False)


class Steps:
    """Numbered progress lines; a failing stage is named together with its log."""

    def __init__(self, total: int):
        self.total, self.done = total, 0

    @contextlib.contextmanager
    def __call__(self, title: str, log: Path) -> Iterator[None]:
        self.done += 1
        console.print(f"[bold][{self.done}/{self.total}][/bold] {title} …")
        started = time.monotonic()
        try:
            yield
        except (KeyboardInterrupt, DemoFailed):
            raise
        except Exception as exc:
            raise DemoFailed(f"step {self.done} ({title}) failed: {exc}\n  read: {log}") from exc
        console.print(f"      [green]done[/green] in {time.monotonic() - started:.1f}s")


def shown_path(path: Path) -> Path:
    """``path`` relative to the working directory when it is below it (``.demo/…``)."""
    with contextlib.suppress(ValueError):
        return path.relative_to(Path.cwd())
    return path


def phase_row(name: str, report: dict[str, Any]) -> dict[str, Any]:
    verify = report.get("verify") or {}
    totals = report["totals"]
    return {
        "phase": name,
        "orders": totals["orders"],
        "committed": totals["committed"],
        "invalid_rejected": totals["invalid_rejected"],
        "failed": totals["failed"],
        "success_rate": report["success_rate"],
        "orders_per_s": report["committed_per_s"],
        "p50_ms": report["latency_ms"].get("p50"),
        "p99_ms": report["latency_ms"].get("p99"),
        "fallbacks": report["fallbacks"]["count"],
        "lost": verify.get("lost"),
        "duplicated": verify.get("duplicated"),
        "passed": report["passed"],
    }


def print_summary(result: DemoResult) -> None:
    table = Table(title="Demo summary", title_justify="left")
    table.add_column("")
    for phase in result.phases:
        table.add_column(phase["phase"], justify="right")
    rows = [
        ("orders sent", "orders"),
        ("committed on a warehouse", "committed"),
        ("invalid, refused", "invalid_rejected"),
        ("failed", "failed"),
        ("success rate", "success_rate"),
        ("committed orders/s", "orders_per_s"),
        ("latency p50 / p99 ms", "latency"),
        ("fallbacks used", "fallbacks"),
        ("lost (verify)", "lost"),
        ("duplicated (verify)", "duplicated"),
    ]
    for label, key in rows:
        if key == "latency":
            cells = [f"{p['p50_ms']:.0f} / {p['p99_ms']:.0f}" for p in result.phases]
        elif key == "success_rate":
            cells = [f"{p[key]:.2%}" for p in result.phases]
        else:
            cells = [str(p[key]) for p in result.phases]
        table.add_row(label, *cells)
    console.print(table)
    chaos, story = result.chaos, result.story
    detected = f"{chaos.detected_s:.2f}s" if chaos.detected_s is not None else "-"
    rejoin = f"{chaos.rejoin_s:.2f}s" if chaos.rejoin_s is not None else "-"
    console.print(
        f"Warehouse {chaos.region} killed: routing noticed in {detected}; after the restart it "
        f"rejoined (ready in routing) in {rejoin}."
    )
    spread = ", ".join(f"{k}: {v}" for k, v in sorted(story.fallback_warehouses.items())) or "-"
    console.print(
        f"{chaos.region} orders — before the kill on {chaos.region}: {story.before_kill_home}; "
        f"while it was down on fallbacks: {story.while_down_on_fallback} ({spread}), "
        f"on {chaos.region} (retried until it was back): {story.while_down_home}; "
        f"after it rejoined on {chaos.region}: {story.after_rejoin_home}."
    )
    if result.disk_loss is not None:
        print_disk_loss(result.disk_loss)
    lost = sum(p["lost"] or 0 for p in result.phases)
    duplicated = sum(p["duplicated"] or 0 for p in result.phases)
    states = ", ".join(f"{n} {state}" for state, n in sorted(result.airflow_runs.items()))
    console.print(f"Airflow order_workflow runs: {states or 'none'}")
    verdict = "[green]PASSED[/green]" if result.passed else "[red]FAILED[/red]"
    console.print(f"Verification: lost {lost}, duplicated {duplicated} — {verdict}")
    console.print(f"Report: {shown_path(result.report_path)} (plots beside it)")


def _seconds(value: float | None) -> str:
    return f"{value:.2f}s" if value is not None else "-"


def print_disk_loss(loss: DiskLoss) -> None:
    """The disk-loss phase in three lines: the outage, the follower, the verdict."""
    down = f"{loss.down_s:.1f}s" if loss.down_s is not None else "-"
    console.print(
        f"Warehouse {loss.region} and its disk lost: down {down}; restored "
        f"{loss.orders_restored if loss.orders_restored is not None else '-'} orders "
        f"(it held {loss.orders_before if loss.orders_before is not None else '-'} just before) "
        f"from its replica in {_seconds(loss.restore_s)} (node log), ready in routing "
        f"{_seconds(loss.ready_s)} after the restart."
    )
    console.print(
        f"{loss.region} follower {loss.follower_url or '(none in readUrls)'} served "
        f"{loss.follower_reads} reads while {loss.region} was down "
        f"({loss.follower_read_errors} failed)."
    )
    ok = loss.lost == 0 and loss.duplicated == 0
    verdict = "[green]ok[/green]" if ok else "[red]FAILED[/red]"
    console.print(
        f"After the restore, every acknowledged order of the demo ({loss.acknowledged}) read "
        f"back: lost {loss.lost if loss.lost is not None else '-'}, duplicated "
        f"{loss.duplicated if loss.duplicated is not None else '-'} — {verdict}"
    )


def print_prometheus(url: str, window_s: float) -> None:
    """What the local Prometheus saw over the run: its URL and three PromQL answers (a failed
    query is one line: the verdict above stands on the stress reports, not on this)."""
    if not url:
        console.print("Prometheus: not installed (scripts/bootstrap.sh installs it); skipped")
        return
    try:
        answers = run_answers(url, window_s)
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        console.print(f"Prometheus {url}: query failed: {exc}")
        return
    rates = ", ".join(f"{r} {v:.1f}" for r, v in sorted(answers.orders_per_s.items())) or "-"
    p99 = f"{answers.p99_ms:.0f} ms" if answers.p99_ms is not None else "-"
    console.print(
        f"Prometheus {url} over the last {window_s:.0f}s — stored orders/s by warehouse: "
        f"{rates}; p99 of POST /order(s): {p99}; fallbacks: {answers.fallbacks}"
    )
