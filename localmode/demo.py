"""``orders-demo`` (``make demo``): the whole system on one machine, a node killed midway.

1. three warehouse nodes (replicated, with a read follower each, unless ``--replication off``),
   the routing source, Prometheus scraping them (when installed), PostgreSQL + Airflow
   (``LocalStack``);
2. phase 1 — orders one DAG run each, at a steady rate; a quarter of the way in, one node is
   killed with SIGKILL, stays down, and is restarted on the same data directory;
3. phase 2 — the same through batched DAG runs, with a few deliberately invalid orders;
4. phase 3 (with replication) — orders straight to the nodes; one node is killed and its data
   directory deleted, its follower serves reads meanwhile, and it comes back restored from its
   replica (:mod:`.demo_disk_loss`);
5. the report: each phase's stress report, where the killed region's orders went while it was
   down and after it rejoined, the rejoin time, the disk loss (restore time, follower reads,
   lost/duplicated after the restore), ``--verify``'s lost/duplicated counts, and what
   Prometheus saw (orders/s per region, p99, fallbacks; :func:`~.prometheus.run_answers`);
6. everything is stopped (Ctrl-C too), unless ``--keep``: then it stays up until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sys
import time

from .demo_options import DemoFailed, DemoOptions, parse_args
from .demo_report import Steps, console, print_prometheus
from .demo_story import DemoResult, run_phases
from .demo_summary import print_summary
from .prometheus import prometheus_available
from .stack import LocalStack, local_stack

__all__ = ["DemoFailed", "DemoOptions", "DemoResult", "main", "parse_args", "run_demo"]


def run_demo(options: DemoOptions) -> DemoResult:
    """Start everything, run both phases, stop everything; the result says what happened."""
    options.state_dir = options.state_dir.resolve()
    if options.state_dir.exists():
        shutil.rmtree(options.state_dir)  # each run starts from empty shards
    options.state_dir.mkdir(parents=True)
    stages = (5 if options.batch_orders > 0 else 4) + (1 if prometheus_available() else 0)
    stages += (1 if options.replication else 0) + (1 if options.lose_disk_region else 0)
    steps = Steps(total=stages)
    with local_stack(
        options.state_dir,
        retry_delay_s=options.retry_delay_s,
        airflow_settings=options.airflow,
        step=steps,
        replication=options.replication,
        tls=options.tls,
    ) as stack:
        started = time.monotonic()
        result = asyncio.run(run_phases(stack, options, steps))
        print_summary(result)
        if stack.tls:
            console.print(
                "TLS: nodes, followers and the routing source served HTTPS only; every client "
                f"trusted only the throwaway CA {stack.tls.ca_bundle}"
            )
        print_prometheus(stack.prometheus_url, time.monotonic() - started)
        if options.keep:
            _show_and_wait(stack)
    return result


def _show_and_wait(stack: LocalStack) -> None:
    assert stack.airflow is not None
    console.print("\n[bold]Everything is still running (--keep):[/bold]")
    console.print(
        f"  Airflow UI   {stack.airflow.url}   login {stack.airflow.username} / "
        f"{stack.airflow.password}"
    )
    for region, url in stack.node_urls.items():
        console.print(f"  warehouse {region:<4} {url}   (Bearer token: {stack.node_token})")
    for region, url in stack.follower_urls.items():
        console.print(f"  follower  {region:<4} {url}   (read-only, same token)")
    console.print(f"  routing      {stack.routing_url}")
    if stack.prometheus_url:
        console.print(
            f"  Prometheus   {stack.prometheus_url}   (alerts: {stack.prometheus_url}/alerts)"
        )
    console.print(f"  logs         {stack.log_dir}")
    console.print("Press Ctrl-C to stop everything.")
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(1)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    # SIGTERM (e.g. from a process manager) cleans up exactly like Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        result = run_demo(options)
    except KeyboardInterrupt:
        console.print("\n[yellow]interrupted: everything the demo started is stopped[/yellow]")
        sys.exit(130)
    except DemoFailed as exc:
        console.print(f"[red]orders-demo: {exc}[/red]")
        sys.exit(1)
    sys.exit(0 if result.passed else 1)


if __name__ == "__main__":
    main()
