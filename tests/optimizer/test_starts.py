"""Starts of a design: recursive bisection where load is very uneven, and contiguity repair of a walled-in piece."""

import numpy as np
import shapely

from territories.optimizer import UnitSet, design
from territories.optimizer.engine import Weights, bisection_partition, make_contiguous

from .conftest import square_grid


def _metropolis(columns: int = 30, rows: int = 30) -> UnitSet:
    """Plains of units without load and a metropolis of small, heavy units in one corner: a few per cent of the
    units hold nearly all the load (as in the demo, where the accounts cluster in the big cities)."""
    ids, geoms = square_grid(columns, rows)
    rng = np.random.default_rng(5)
    col = np.array([int(unit.split("-")[0][1:]) for unit in ids])
    row = np.array([int(unit.split("-")[1]) for unit in ids])
    distance = np.hypot(col - 4, row - 4)
    potential = np.where(distance < 6, rng.lognormal(3.0, 0.4, len(ids)) * np.exp(-distance / 3), 0.0)
    potential += np.where(rng.random(len(ids)) < 0.05, rng.uniform(0.5, 2.0, len(ids)), 0.0)  # a few small towns
    return UnitSet(ids, geoms, {"potential": potential})


def test_bisection_gives_every_territory_the_mean_within_a_unit():
    units = _metropolis()
    geo = units.geography
    load = np.asarray(units.measures["potential"], dtype=float)
    k = 12
    load = load / (load.sum() / k)
    labels = bisection_partition(geo.x, geo.y, geo.area, load, np.ones(len(load), dtype=bool), np.arange(k))
    sums = np.bincount(labels, load, minlength=k)
    assert (labels >= 0).all() and len(np.unique(labels)) == k
    assert np.abs(sums - 1.0).max() <= np.log2(k) * load.max()  # one unit's load per level of cuts at most


def test_design_balances_a_metropolis_and_its_plains():
    units = _metropolis()
    plan = design(units, 12, {"potential": (1.0, 0.05)}, seed=0, time_limit=30)
    report = plan.report
    assert report["within_tolerance"] and report["contiguous"]
    assert report["max_rel_dev"] <= 0.05
    assert report["best_start_method"] in ("recursive bisection", "power diagram")


def test_bisection_starts_differ_by_seed_but_repeat_for_one_seed():
    units = _metropolis()
    geo = units.geography
    load = np.asarray(units.measures["potential"], dtype=float)
    every = np.ones(len(load), dtype=bool)

    def cut(seed):
        return bisection_partition(geo.x, geo.y, geo.area, load, every, np.arange(8), np.random.default_rng(seed))

    assert (cut(1) == cut(1)).all()
    assert not (cut(1) == cut(2)).all()


def test_piece_walled_in_by_a_closed_territory_joins_it():
    # a 3 × 3 block of territory 0 (closed: a group held together), whose centre was given to territory 1, whose
    # heavier piece is the column to the east: the centre cannot reach an open territory
    ids, geoms = square_grid(4, 3)
    units = UnitSet(ids, geoms, {"potential": np.ones(len(ids))})
    geo = units.geography
    labels = np.array([1 if unit.startswith("c3-") or unit == "c1-1" else 0 for unit in ids])
    closed = np.array([True, False])
    result = make_contiguous(labels, geo, np.ones(len(ids)), 2, np.zeros(len(ids), dtype=bool), geo.x, geo.y, closed)
    assert (result >= 0).all()
    assert result[ids.index("c1-1")] == 0
    assert shapely.union_all([geoms[i] for i in np.flatnonzero(result == 1)]).geom_type == "Polygon"


def test_a_far_power_diagram_start_is_searched_from_bisection_too():
    # The bench's 316 counties at k = 8: the power diagram starts many tolerances off (a knot of metro counties);
    # bisection gives the rounder balanced plan, which the design keeps. Generous time: the deadline is a safety stop.
    from bench.optimizer import county_instance

    units, info = county_instance(quick=True)
    power_only = design(units, 8, info["balance"], seed=1, time_limit=120, weights=Weights(far_start_excess=np.inf))
    both = design(units, 8, info["balance"], seed=1, time_limit=120)
    assert power_only.report["best_start_method"] == "power diagram"
    assert both.report["best_start_method"] == "recursive bisection"
    for plan in (power_only, both):
        assert plan.report["within_tolerance_where_possible"] and plan.report["contiguous"]
    assert both.report["polsby_popper_mean"] > power_only.report["polsby_popper_mean"]
