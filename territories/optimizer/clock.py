"""The optimiser's clock: seconds of counted work rather than of the wall clock.

A step of the search stops at its share of the time limit. Read from the wall clock, where it stops (and so
the plan) depends on the machine's load; read from the work done, one seed and one time limit give one plan.
Work is counted where it is spent: a descent round by its candidate moves and applied moves, a connectivity
check by the units it visits, an integer programme by its size and simplex iterations (HiGHS reports both,
and they do not depend on the load). The rates are seconds on the 2-core machine the benchmarks run on,
fitted on the hex realignments at k = 10, 25 and 50 (127 programmes: 26% off per call, the sums within 5% at
each k; connectivity checks 0.37-0.53 µs per unit visited), and counted work runs 10% ahead of real time
there (`PACE`).

The wall clock still stops a run that falls far behind its counted work (a slower or overloaded machine):
once real time exceeds the work by `grace` seconds, it is the clock, and the run ends as it did before.
Work that is not counted (polishing, re-splitting, recombination: bounded by counts of their own) only
makes the counted clock slow, which the grace absorbs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

DESCENT_CANDIDATE_S = 0.9e-6  # pricing one candidate move (vectorised)
DESCENT_MOVE_S = 20e-6  # applying one move
CONNECTIVITY_UNIT_S = 0.44e-6  # per unit a connectivity check visits
PROGRAMME_S = 0.15  # building it (articulation units included) and presolving
PROGRAMME_NONZERO_S = 50e-6  # per nonzero of its matrix (cut separation, heuristics at the root)
PROGRAMME_ITERATION_S = 100e-6  # per simplex iteration
# counted work runs 10% ahead of real time on the bench machine, so one about a quarter slower (or this one
# under some load) still stops on counted work, the grace included; the bench's realignments are the same plans
PACE = 1.1


class WorkClock:
    def __init__(self, grace: float) -> None:
        self.origin = time.monotonic()
        self.work = 0.0
        self.grace = grace

    def now(self) -> float:
        real = time.monotonic() - self.origin
        return self.origin + max(self.work, real - self.grace)

    def spend(self, seconds: float) -> None:
        self.work += seconds * PACE


_current: ContextVar[WorkClock | None] = ContextVar("optimizer_work_clock", default=None)


def now() -> float:
    """The time on the running optimisation's clock (the wall clock outside one)."""
    clock = _current.get()
    return clock.now() if clock is not None else time.monotonic()


def spend(seconds: float) -> None:
    clock = _current.get()
    if clock is not None:
        clock.spend(seconds)


def spend_on_programme(nonzeros: int, iterations: int) -> None:
    spend(PROGRAMME_S + PROGRAMME_NONZERO_S * nonzeros + PROGRAMME_ITERATION_S * iterations)


@contextmanager
def counted_work(time_limit: float) -> Iterator[None]:
    """Run an optimisation on a work clock; a nested one (realignment's fallback design) shares it."""
    if _current.get() is not None:
        yield
        return
    token = _current.set(WorkClock(grace=1.0 + 0.1 * max(time_limit, 1.0)))
    try:
        yield
    finally:
        _current.reset(token)
