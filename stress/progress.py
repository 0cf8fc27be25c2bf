"""The live progress bar: sent / committed / failed and the current rate.

It reads counters on a timer (four times a second) instead of being told about every order, so
it costs the same at 10 orders/s and at 10,000.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

#: (sent, committed, rejected, failed) so far
Counters = Callable[[], tuple[int, int, int, int]]
REFRESH_S = 0.25
RATE_WINDOW_S = 2.0


@contextlib.asynccontextmanager
async def live_progress(
    counters: Counters, total: int | None, console: Console, enabled: bool = True
) -> AsyncIterator[None]:
    if not enabled:
        yield
        return
    progress = Progress(
        TextColumn("[bold]orders"),
        BarColumn(),
        TextColumn(
            "sent {task.fields[sent]}  [green]committed {task.fields[committed]}[/]  "
            "rejected {task.fields[rejected]}  [red]failed {task.fields[failed]}[/]  "
            "{task.fields[rate]:.0f}/s"
        ),
        TimeElapsedColumn(),
        console=console,
        refresh_per_second=4,
    )
    task = progress.add_task(
        "orders", total=total, sent=0, committed=0, rejected=0, failed=0, rate=0.0
    )
    window: deque[tuple[float, int]] = deque()

    def update() -> None:
        sent, committed, rejected, failed = counters()
        done = committed + rejected + failed
        now = time.monotonic()
        window.append((now, done))
        while len(window) > 1 and now - window[0][0] > RATE_WINDOW_S:
            window.popleft()
        span = now - window[0][0]
        rate = (done - window[0][1]) / span if span > 0 else 0.0
        progress.update(
            task,
            completed=done,
            sent=sent,
            committed=committed,
            rejected=rejected,
            failed=failed,
            rate=rate,
        )

    async def refresh() -> None:
        while True:
            update()
            await asyncio.sleep(REFRESH_S)

    with progress:
        ticker = asyncio.get_running_loop().create_task(refresh())
        try:
            yield
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            update()
