"""Realignment from current alignments that moves alone cannot repair: territories in several pieces of the unit
graph, and a metro far beyond one territory's share in coarse units (the seeded demo's state territories: Los
Angeles 4.3 means; realign ended 49-72% off and not contiguous)."""

import numpy as np

from territories.optimizer import UnitSet, realign

from .conftest import square_grid


def _cells(ids):
    cols = np.asarray([int(unit_id[1:].split("-")[0]) for unit_id in ids])
    rows = np.asarray([int(unit_id.split("-")[1]) for unit_id in ids])
    return cols, rows


def test_realign_mends_a_current_territory_in_two_pieces():
    ids, geoms = square_grid(12, 8)
    cols, _ = _cells(ids)
    potential = np.full(len(ids), 100.0)
    units = UnitSet(ids, geoms, {"potential": potential, "revenue": potential})
    current = {unit_id: "ABC"[col // 4] for unit_id, col in zip(ids, cols, strict=True)}
    current["c9-4"] = "A"  # an exclave of A inside C
    current["c0-0"] = "C"  # and one of C inside A: every territory already within the tolerance
    plan = realign(units, current, {"potential": (1.0, 0.05)}, move_weight="revenue", time_limit=10)
    # before: both exclaves stayed where they were (moving them only costs), so the plan was not contiguous
    assert plan.report["contiguous"], plan.report["noncontiguous_territories"]
    assert plan.report["within_tolerance"]
    assert plan.assignment["c9-4"] == "C" and plan.assignment["c0-0"] == "A"
    assert plan.report["start_pieces_units_moved"] == 2
    assert plan.report["disruption"]["units_moved"] == 2
    assert plan.report["realign_fallback"] is None


def test_realign_redesigns_when_moves_cannot_repair_a_metro():
    ids, geoms = square_grid(24, 24)
    cols, rows = _cells(ids)
    rng = np.random.default_rng(5)
    potential = rng.uniform(50, 100, len(ids))
    metro = (cols - 11.5) ** 2 + (rows - 11.5) ** 2 <= 9  # 32 cells of about a third of a territory's mean each
    potential[metro] *= 40
    revenue = potential * rng.uniform(0.2, 0.6, len(ids))
    units = UnitSet(ids, geoms, {"potential": potential, "revenue": revenue})
    current = {unit_id: f"T{col // 6}-{row // 6}" for unit_id, col, row in zip(ids, cols, rows, strict=True)}
    plan = realign(units, current, {"potential": (1.0, 0.05)}, move_weight="revenue", time_limit=20)
    # before: the moves stalled 11% off (every territory round the metro overloaded, its boundary units
    # articulation points), with no way out
    assert plan.report["within_tolerance"], plan.report["max_rel_dev"]
    assert plan.report["contiguous"]
    fallback = plan.report["realign_fallback"]
    assert fallback["kept"] == "redesign" and fallback["moves_max_excess"] > 1.0
    assert set(plan.assignment.values()) == set(current.values())  # the current names, all 16 kept
    assert plan.report["disruption"]["units_moved"] < len(ids)
    assert plan.tradeoff == []  # no trade-off points of moves that failed


def test_realign_that_moves_can_repair_is_not_redesigned(grid_units):
    shifted = grid_units.measures["population"].copy()
    current = {unit_id: ("W" if i < 128 else "E") for i, unit_id in enumerate(grid_units.ids)}
    shifted[:32] *= 1.3
    units = grid_units.with_measures({"population": shifted})
    plan = realign(units, current, {"population": (1.0, 0.03)}, move_weight="accounts", time_limit=10)
    assert plan.report["within_tolerance"] and plan.report["contiguous"]
    assert plan.report["realign_fallback"] is None
