"""``--stages 10s:100,30s:500,10s:0``: an open loop whose offered rate changes over the run.

Each stage (parsed by :func:`stress.config.parse_stages`) is ``DURATION:RATE`` (the
``--duration`` and ``--rate`` syntaxes; a rate of 0 is a pause) and holds its rate for its whole
duration: steps, not linear ramps, so every stage has one offered rate its achieved rate can be
compared with. A stage of ``rate x duration`` orders
sends order *i* of the stage at ``start + i / rate``. The run lasts the stages' total duration
even when the last ones send nothing (a trailing ``10s:0`` watches the backlog drain).

Per stage the report gives the offered rate, what was sent, each outcome and the committed
latency of the orders *sent* in the stage, and ``achieved_per_s``: orders committed *during*
the stage per second of it — the throughput the system really gave while offered that rate.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from .config import Stage
from .engine import Unit
from .results import OrderResult
from .stats import outcome_figures


def total_duration(stages: Sequence[Stage]) -> float:
    return sum(stage.duration_s for stage in stages)


def starts(stages: Sequence[Stage]) -> list[float]:
    """Each stage's start, in seconds since the run started."""
    out, at = [], 0.0
    for stage in stages:
        out.append(at)
        at += stage.duration_s
    return out


def order_times(stages: Sequence[Stage]) -> Iterator[float]:
    """The intended send time of every order, in order."""
    for start, stage in zip(starts(stages), stages, strict=True):
        for i in range(stage.orders):
            yield start + i / stage.rate


def schedule(stages: Sequence[Stage], units: Iterator[Unit]) -> Iterator[tuple[float, Unit]]:
    """(intended time, unit) pairs: a unit leaves at its first order's time."""
    times = order_times(stages)
    for unit in units:
        intended = next(times, None)
        if intended is None:
            return
        for _ in range(len(unit) - 1):
            next(times, None)
        yield intended, unit


def stage_of(stages: Sequence[Stage], at: float) -> int:
    """The index of the stage the time ``at`` falls in (the last one after the end)."""
    for index, start in enumerate(starts(stages)):
        if at < start + stages[index].duration_s:
            return index
    return len(stages) - 1


def stage_figures(stages: Sequence[Stage], results: Sequence[OrderResult]) -> list[dict[str, Any]]:
    """The report's ``stages``: per stage, offered against achieved, and what its orders did."""
    sent: list[list[OrderResult]] = [[] for _ in stages]
    committed_during = [0] * len(stages)
    for result in results:
        sent[stage_of(stages, result.intended)].append(result)
        if result.outcome == "committed":  # after the last stage: counted in the last one
            committed_during[stage_of(stages, result.finished)] += 1
    figures = []
    for index, (start, stage) in enumerate(zip(starts(stages), stages, strict=True)):
        figures.append(
            {
                "stage": index + 1,
                "start_s": round(start, 3),
                "duration_s": stage.duration_s,
                "offered_per_s": stage.rate,
                **outcome_figures(sent[index]),
                "sent_per_s": round(len(sent[index]) / stage.duration_s, 2),
                "achieved_per_s": round(committed_during[index] / stage.duration_s, 2),
            }
        )
    return figures
