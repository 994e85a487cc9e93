"""Units that geography leaves without any balanced territory: proven, reported, and held to the
closest balance they allow while every other territory stays within the tolerance."""

import numpy as np
import shapely

from territories.optimizer import UnitSet, design
from territories.optimizer.feasibility import limited_groups, unbalanceable_units

from .conftest import square_grid


def path(n):
    return [[v for v in (i - 1, i + 1) if 0 <= v < n] for i in range(n)]


def test_dead_end_unit_is_proven_unbalanceable_with_its_nearest_sums():
    # a chain 0-1-2-3-...: unit 0 (0.3) sits behind unit 1 (0.75); everything else is small
    values = np.asarray([0.3, 0.75] + [0.05] * 40)[:, None]
    bounds = unbalanceable_units(path(42), values, np.asarray([0.02]), np.asarray([1.0]), np.zeros(42, bool))
    assert [b.unit for b in bounds] == [0]
    bound = bounds[0]
    assert bound.below == 0.3 and abs(bound.above - 1.05) < 1e-9  # {0} or {0, 1}: 0.3 or 1.05
    assert abs(bound.best_deviation - 0.05) < 1e-9
    assert bound.group == frozenset({0, 1})
    assert limited_groups(bounds, path(42), values, np.asarray([0.02]), np.zeros(42, bool)) == [frozenset({0, 1})]


def test_no_unit_is_flagged_where_small_units_can_always_fill_the_band():
    values = np.full((50, 1), 0.1)
    values[[3, 20]] = 0.6
    assert unbalanceable_units(path(50), values, np.asarray([0.05]), np.asarray([1.0]), np.zeros(50, bool)) == []


def test_blocked_units_cannot_be_joined():
    # unit 1 is an oversize territory of its own: unit 0 behind it has nothing to join
    values = np.asarray([0.5, 3.0] + [0.1] * 20)[:, None]
    blocked = np.zeros(22, bool)
    blocked[1] = True
    bounds = unbalanceable_units(path(22), values, np.asarray([0.05]), np.asarray([1.0]), blocked)
    assert [(b.unit, b.below, b.above) for b in bounds] == [(0, 0.5, None)]


def test_design_reports_a_territory_geography_cannot_balance_and_balances_the_rest():
    # a 10 × 10 grid of units worth 1, and a peninsula of two big units hanging off one corner:
    # P2 can only be alone (0.3 of a mean) or with P1 (1.05 of a mean): 5% is the best possible
    ids, geoms = square_grid(10, 10, size=0.1, origin=(-100.0, 40.0))
    mean = 100 / (5 - 1.05)
    ids += ["P1", "P2"]
    geoms += [shapely.box(-100.1, 40.0, -100.0, 40.1), shapely.box(-100.2, 40.0, -100.1, 40.1)]
    values = np.concatenate([np.ones(100), [0.75 * mean, 0.3 * mean]])
    units = UnitSet(ids, geoms, {"v": values})
    plan = design(units, 5, {"v": (1.0, 0.02)}, seed=0, time_limit=30)
    report = plan.report
    limits = {item["unit"]: item for item in report["geography_limits"]}
    assert set(limits) == {"P2"}
    assert abs(limits["P2"]["best_possible_deviation"] - 0.05) < 1e-3
    assert abs(limits["P2"]["nearest_reachable_above"] - 1.05) < 1e-3
    assert report["contiguous"]
    assert report["within_tolerance"] is False  # honest: one territory cannot be within 2%
    assert report["within_tolerance_where_possible"] is True
    assert report["max_rel_dev_balanceable"] <= 0.02
    limited = [item for item in report["territories"] if item["balance_limited_by_geography"]]
    assert len(limited) == 1 and limited[0]["balance_limited_by_geography"]["units"] == ["P2"]
    assert plan.assignment["P1"] == plan.assignment["P2"] == limited[0]["territory"]
    assert abs(limited[0]["deviation"]["v"]) <= 0.05 + 0.02
    for item in report["territories"]:
        if not item["balance_limited_by_geography"]:
            assert abs(item["deviation"]["v"]) <= 0.02
