"""Design, realignment and candidates on small grids: real behaviour, exact where it can be."""

import dataclasses
import json

import numpy as np
import pytest
import shapely

from territories.optimizer import OptimizerInputError, UnitSet, candidates, design, realign

from .conftest import square_grid


def territory_sums(plan, units, measure):
    sums = {}
    for unit_id, value in zip(units.ids, units.measures[measure], strict=False):
        label = plan.assignment[unit_id]
        sums[label] = sums.get(label, 0.0) + value
    return sums


def test_design_balances_within_tolerance_and_is_contiguous(grid_units):
    plan = design(grid_units, 6, {"population": (1.0, 0.02)}, seed=1, time_limit=20)
    sums = territory_sums(plan, grid_units, "population")
    mean = sum(sums.values()) / 6
    assert len(sums) == 6
    assert max(abs(value / mean - 1) for value in sums.values()) <= 0.02
    assert plan.report["contiguous"] is True
    assert plan.report["within_tolerance"] is True
    assert all(item["contiguous"] for item in plan.report["territories"])
    assert plan.report["polsby_popper_mean"] > 0.4  # squares of a grid: territories should be chunky
    json.dumps(plan.report)  # the report is JSON as it is


def test_design_balances_two_measures(grid_units):
    balance = {"population": (1.0, 0.05), "accounts": (1.0, 0.05)}
    plan = design(grid_units, 5, balance, seed=2, time_limit=20)
    for measure in balance:
        sums = territory_sums(plan, grid_units, measure)
        mean = sum(sums.values()) / 5
        assert max(abs(value / mean - 1) for value in sums.values()) <= 0.05
    assert plan.report["contiguous"]


def test_same_seed_same_plan(grid_units):
    first = design(grid_units, 5, {"population": (1.0, 0.03)}, seed=7, time_limit=20)
    second = design(grid_units, 5, {"population": (1.0, 0.03)}, seed=7, time_limit=20)
    assert first.assignment == second.assignment


def test_corner_touch_is_not_adjacent():
    # a 2×2 checkerboard: the diagonal squares meet only at the centre point
    geoms = [shapely.box(0, 0, 1, 1), shapely.box(1, 1, 2, 2), shapely.box(1, 0, 2, 1), shapely.box(0, 1, 1, 2)]
    units = UnitSet(["a", "b", "c", "d"], geoms, {"v": [1, 1, 1, 1]})
    geo = units.geography
    neighbours = {units.ids[i]: {units.ids[j] for j in row} for i, row in enumerate(geo.neighbours())}
    assert neighbours["a"] == {"c", "d"}
    assert neighbours["b"] == {"c", "d"}
    assert geo.islands_joined == []


def test_corner_only_units_are_islands_joined_and_reported():
    # two squares touching at one corner only: two pieces, joined and said so
    units = UnitSet(["a", "b"], [shapely.box(0, 0, 1, 1), shapely.box(1, 1, 2, 2)], {"v": [1, 1]})
    assert len(units.geography.islands_joined) == 1


def test_island_is_joined_to_nearest_piece_and_reported():
    ids, geoms = square_grid(6, 6)
    ids.append("island")
    geoms.append(shapely.box(-99.35, 40.1, -99.3, 40.15))  # just east of the grid, not touching
    values = np.ones(len(ids))
    units = UnitSet(ids, geoms, {"v": values})
    joined = units.geography.islands_joined
    assert len(joined) == 1
    assert joined[0]["unit"] == "island"
    assert joined[0]["joined_to"].startswith("c5-")
    plan = design(units, 3, {"v": (1.0, 0.1)}, time_limit=10)
    assert plan.report["contiguous"]
    assert plan.report["islands_joined"] == joined


def test_self_intersecting_polygon_is_repaired_and_counted():
    ids, geoms = square_grid(4, 4)
    x0, y0 = -100.0, 40.0
    bowtie = shapely.Polygon([(x0, y0), (x0 + 0.1, y0 + 0.1), (x0 + 0.1, y0), (x0, y0 + 0.1)])
    assert not bowtie.is_valid
    geoms[0] = bowtie
    units = UnitSet(ids, geoms, {"v": np.ones(len(ids))})
    assert len(units.repairs) == 1 and units.repairs[0]["unit"] == ids[0]
    plan = design(units, 2, {"v": (1.0, 0.2)}, time_limit=10)
    assert plan.report["repairs_count"] == 1


def test_unit_that_alone_exceeds_tolerance_gets_own_territory():
    ids, geoms = square_grid(8, 8)
    values = np.ones(len(ids))
    values[27] = 40.0  # mean per territory is about (63 + 40) / 4: this one unit is far above
    units = UnitSet(ids, geoms, {"v": values})
    plan = design(units, 4, {"v": (1.0, 0.05)}, time_limit=20)
    oversize = plan.report["oversize_singletons"]
    assert [item["unit"] for item in oversize] == [ids[27]]
    label = plan.assignment[ids[27]]
    assert [u for u, t in plan.assignment.items() if t == label] == [ids[27]]
    assert plan.report["within_tolerance"]  # the other three are balanced around their own mean


def test_points_use_a_proximity_graph():
    rng = np.random.default_rng(0)
    lon = -90 + rng.random(200)
    lat = 35 + rng.random(200)
    units = UnitSet(range(200), [shapely.Point(a, b) for a, b in zip(lon, lat, strict=False)], {"n": np.ones(200)})
    plan = design(units, 4, {"n": (1.0, 0.05)}, time_limit=20)
    assert plan.report["graph"]["kind"] == "delaunay"
    assert plan.report["contiguous"]
    assert plan.report["within_tolerance"]


def test_pinned_and_locked_units_stay(grid_units):
    locked = {"c0-0": "North", "c0-1": "North", "c1-0": "North"}
    pinned = {"c15-15": "East"}
    plan = design(grid_units, 5, {"population": (1.0, 0.05)}, locked=locked, pinned=pinned, time_limit=20)
    assert [u for u, t in plan.assignment.items() if t == "North"] == sorted(locked, key=grid_units.ids.index)
    assert plan.assignment["c15-15"] == "East"
    assert len(set(plan.assignment.values())) == 5


def test_anchors_seed_territories(grid_units):
    anchors = [(-99.95, 40.05), (-98.45, 41.45)]
    plan = design(grid_units, None, {"population": (1.0, 0.05)}, anchors=anchors, time_limit=20)
    assert plan.assignment["c0-0"] != plan.assignment["c15-15"]


def test_realign_reaches_tolerance_with_few_moves(grid_units):
    start = design(grid_units, 4, {"population": (1.0, 0.03)}, seed=0, time_limit=20)
    shifted = grid_units.measures["population"].copy()
    shifted[:64] *= 1.25  # the west quarter grows
    units = grid_units.with_measures({"population": shifted})
    plan = realign(units, start.assignment, {"population": (1.0, 0.03)}, move_weight="accounts", time_limit=20)
    assert plan.report["within_tolerance"]
    assert plan.report["contiguous"]
    moved = plan.report["disruption"]["units_moved"]
    assert 0 < moved < len(units) * 0.25
    assert plan.report["disruption"]["move_weight"] == "accounts"
    factors = [point["tolerance_factor"] for point in plan.report["tradeoff"]]
    assert 1.0 in factors and len(plan.tradeoff) == len(factors) - 1
    loose = max(plan.report["tradeoff"], key=lambda point: point["tolerance_factor"])
    tight = min(plan.report["tradeoff"], key=lambda point: point["tolerance_factor"])
    assert loose["units_moved"] <= tight["units_moved"]


def test_looser_tradeoff_points_fit_their_tolerance_and_move_no_more_than_the_plan(grid_units):
    start = design(grid_units, 5, {"population": (1.0, 0.03)}, seed=1, time_limit=20)
    shifted = grid_units.measures["population"].copy()
    shifted[:96] *= 1.3
    units = grid_units.with_measures({"population": shifted})
    plan = realign(
        units, start.assignment, {"population": (1.0, 0.03)}, move_weight="accounts", time_limit=20,
        tradeoff_factors=(1.5, 2.5),
    )
    assert plan.report["within_tolerance"]
    main_share = plan.report["disruption"]["move_weight_moved_share"]
    looser = [point for point in plan.report["tradeoff"] if point["tolerance_factor"] > 1.0]
    assert [point["tolerance_factor"] for point in looser] == [1.5, 2.5]
    for point in looser:
        assert point["max_rel_dev"] <= 0.03 * point["tolerance_factor"] + 1e-9
        assert point["contiguous"]
        assert point["move_weight_moved_share"] <= main_share + 1e-12
    # the widest band leaves room to send something home
    assert looser[-1]["move_weight_moved_share"] < main_share


def test_candidates_return_several_plans(grid_units):
    plans = candidates(grid_units, 4, {"population": (1.0, 0.05)}, n=2, time_limit=20)
    assert len(plans) == 2
    assert all(plan.report["within_tolerance"] for plan in plans)


def test_progress_is_reported(grid_units):
    seen = []
    design(grid_units, 3, {"population": (1.0, 0.05)}, progress=lambda pct, msg: seen.append((pct, msg)), time_limit=10)
    assert seen[-1][0] == 100.0
    assert [pct for pct, _ in seen] == sorted(pct for pct, _ in seen)


@pytest.mark.parametrize(
    ("k", "message"),
    [(0, "k must be a positive"), (1000, "larger than the number of units")],
)
def test_bad_k(grid_units, k, message):
    with pytest.raises(OptimizerInputError, match=message):
        design(grid_units, k, {"population": (1.0, 0.05)})


def test_unknown_measure(grid_units):
    with pytest.raises(OptimizerInputError, match="no measure named 'revenue'"):
        design(grid_units, 3, {"revenue": (1.0, 0.05)})


@pytest.mark.parametrize("k, seed", [(4, 1), (6, 2)])
def test_last_descent_on_mean_polsby_popper_rounds_the_territories(grid_units, k, seed):
    from territories.optimizer.engine import Weights

    balance = {"population": (1.0, 0.02)}
    polished = design(grid_units, k, balance, seed=seed, time_limit=20)
    without = design(grid_units, k, balance, seed=seed, time_limit=20, weights=Weights(polish_mean_pp=False))
    assert polished.report["within_tolerance"] and polished.report["contiguous"]
    assert polished.report["polsby_popper_mean"] > without.report["polsby_popper_mean"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_search_from_both_starts_keeps_the_rounder_balanced_plan(grid_units, seed):
    from territories.optimizer.engine import Weights

    balance = {"population": (1.0, 0.02)}
    # the re-splits after either start are another matter (test_resplit.py)
    options = {"seed": seed, "time_limit": 20}
    plain = Weights(resplit_attempts_per_territory=0)
    both = design(grid_units, 6, balance, weights=dataclasses.replace(plain, both_starts=True), **options)
    power_only = design(grid_units, 6, balance, weights=plain, **options)
    assert both.report["within_tolerance"] and both.report["contiguous"]
    assert both.report["polsby_popper_mean"] >= power_only.report["polsby_popper_mean"]
    assert both.report["best_start_method"] in ("power diagram", "recursive bisection")


def test_compact_realignment_keeps_territories_rounder():
    from bench.optimizer import hex_instance, shifted_measures

    # 1,261 hexagons, three measures, then 10% of the potential shifts (on 469 the two plans differ by noise only)
    units, info = hex_instance(quick=False, radius=20)
    start = design(units, 6, info["balance"], seed=0, time_limit=20)
    shifted = units.with_measures(shifted_measures(units))
    options = {"move_weight": "revenue", "time_limit": 10, "tradeoff_factors": ()}
    fewest = realign(shifted, start.assignment, info["balance"], **options)
    compact = realign(shifted, start.assignment, info["balance"], compact=True, **options)
    for plan in (fewest, compact):
        assert plan.report["within_tolerance"] and plan.report["contiguous"]
        assert plan.report["disruption"]["units_moved"] > 0
    assert compact.report["compact"] is True and fewest.report["compact"] is False
    assert compact.report["polsby_popper_mean"] > fewest.report["polsby_popper_mean"] + 0.01
