"""The demo's end-of-run summary: both phases, the outage, the lost disk (``print_summary``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from .demo_report import console, shown_path

if TYPE_CHECKING:
    from .demo_disk_loss import DiskLoss
    from .demo_story import DemoResult


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
