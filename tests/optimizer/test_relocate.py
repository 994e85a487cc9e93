"""Realignment by relocating a territory: where the market grew in one corner, closing a territory whose neighbours
have room and opening it again in the growth moves less than carrying the load out border by border."""

import numpy as np

from territories.optimizer import UnitSet, realign

from .conftest import square_grid

BALANCE = {"potential": (1.0, 0.05)}


def _blocks(growth: float):
    """5 × 5 territories of 4 × 4 cells, T0 in the south-west corner with `growth` times its potential."""
    ids, geoms = square_grid(20, 20)
    cols = np.asarray([int(unit_id[1:].split("-")[0]) for unit_id in ids])
    rows = np.asarray([int(unit_id.split("-")[1]) for unit_id in ids])
    block = (cols // 4) * 5 + rows // 4
    revenue = np.random.default_rng(11).uniform(80, 120, len(ids))
    potential = np.where(block == 0, growth, 1.0) * revenue
    units = UnitSet(ids, geoms, {"potential": potential, "revenue": revenue})
    return units, {unit_id: f"T{b}" for unit_id, b in zip(ids, block, strict=True)}


def _revenue_moved(units, current, plan) -> float:
    revenue = units.measures["revenue"]
    moved = np.asarray([plan.assignment[unit_id] != current[unit_id] for unit_id in units.ids])
    return float(revenue[moved].sum() / revenue.sum())


def test_a_territory_with_room_around_it_is_closed_and_opened_again_in_the_growth():
    units, current = _blocks(growth=3.0)  # T0 at 2.7 times the mean, the others 7% under

    plan = realign(units, current, BALANCE, move_weight="revenue", time_limit=10)
    by_borders = realign(units, current, BALANCE, move_weight="revenue", time_limit=10, relocate=False)

    relocation = plan.report["relocation"]
    assert relocation is not None and relocation["reopened_in"] == "T0"
    closed = relocation["closed"]
    assert closed not in ("T0", "T1", "T5")  # neither the growth nor touching it
    assert plan.report["within_tolerance"] and plan.report["contiguous"]
    # the closed territory's name now holds cells of the corner, and none of its own block
    grown = [unit_id for unit_id in units.ids if current[unit_id] == "T0"]
    own = [unit_id for unit_id in units.ids if current[unit_id] == closed]
    assert any(plan.assignment[unit_id] == closed for unit_id in grown)
    assert not any(plan.assignment[unit_id] == closed for unit_id in own)
    # and it moves less than border moves alone
    assert by_borders.report["relocation"] is None and by_borders.report["within_tolerance"]
    assert _revenue_moved(units, current, plan) < _revenue_moved(units, current, by_borders)
    assert relocation["after_transfers"]["move_weight_moved_share"] < (
        relocation["unchanged_after_transfers"]["move_weight_moved_share"])


def test_no_relocation_where_border_moves_do_it_cheaper():
    units, current = _blocks(growth=1.2)  # T0 20% over: its neighbours take the excess

    plan = realign(units, current, BALANCE, move_weight="revenue", time_limit=10)

    assert plan.report["relocation"] is None
    assert plan.report["within_tolerance"] and plan.report["contiguous"]
