"""What the demo prints while it runs: numbered steps, per-phase rows, Prometheus's answers.

The end-of-run summary is :mod:`localmode.demo_summary`: it reads the phases' results, which
import this module, so keeping it here would tie the two into a circle."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from .demo_options import DemoFailed
from .prometheus import run_answers

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
