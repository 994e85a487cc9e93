"""One seed, one plan: the design does not depend on how busy the machine is."""

import subprocess
import sys
from contextlib import contextmanager

import territories.optimizer.engine as engine
from bench.optimizer import hex_instance
from territories.optimizer import design


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

