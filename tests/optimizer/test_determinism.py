"""One seed, one plan: neither a design nor a realignment depends on how busy or slow the machine is."""

import subprocess
import sys
import time
from contextlib import contextmanager

import territories.optimizer.engine as engine
from bench.optimizer import hex_instance, shifted_measures
from territories.optimizer import design, realign


@contextmanager
def _busy_cores(count: int):
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def test_a_seed_gives_the_same_plan_on_a_quiet_and_on_a_busy_machine(monkeypatch):
    # hexes with three measures: the balancing programme takes part (its roots took more than the old
    # half-second clock limit here, so the work done, and the plan, followed the load)
    units, info = hex_instance(False, radius=22)
    programmes = []
    solve = engine.solve_programme
    monkeypatch.setattr(engine, "solve_programme", lambda *a, **kw: programmes.append(1) or solve(*a, **kw))

    quiet = design(units, 20, info["balance"], seed=4, time_limit=120)
    with _busy_cores(2):
        busy = design(units, 20, info["balance"], seed=4, time_limit=120)

    assert programmes, "the balancing programme did not take part; the test would not show anything"
    assert busy.assignment == quiet.assignment
    assert busy.report["max_rel_dev"] == quiet.report["max_rel_dev"]


def _tradeoff(plan):
    points = plan.report["tradeoff"]
    return [(point["tolerance_factor"], point["max_rel_dev"], point["units_moved"]) for point in points]


def test_a_realignment_does_not_change_when_the_machine_runs_slower(monkeypatch):
    # realignment's steps stop at their share of the time limit (the tighter trade-off points do here): on the wall
    # clock a slower machine stops them elsewhere; on counted work it does not
    units, info = hex_instance(True)
    balance = info["balance"]
    current = design(units, 8, balance, seed=0, time_limit=60).assignment
    shifted = units.with_measures(shifted_measures(units))
    usual = realign(shifted, current, balance, seed=0, time_limit=6, move_weight="revenue")

    real = time.monotonic
    origin = real()
    monkeypatch.setattr(time, "monotonic", lambda: origin + (real() - origin) * 1.1)  # every second takes 1.1
    slower = realign(shifted, current, balance, seed=0, time_limit=6, move_weight="revenue")

    assert any(point[1] > point[0] * 0.05 for point in _tradeoff(usual)), "no step stopped on its time share"
    assert slower.assignment == usual.assignment
    assert _tradeoff(slower) == _tradeoff(usual)
