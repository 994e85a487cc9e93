"""Realignment sends moved units home in exchanges where one unit alone cannot go back without leaving the band."""

import time

import numpy as np

from territories.optimizer import UnitSet
from territories.optimizer.engine import HOLD, Search, Weights

from .conftest import square_grid


def _search(labels, original, tolerance=0.05):
    # 4 × 4 grid, every unit worth 1/8 of a territory's mean: one unit more or less is 12.5% off
    ids, geoms = square_grid(4, 4)
    units = UnitSet(ids, geoms, {"v": np.ones(len(ids))})
    search = Search(
        units.geography,
        np.full((len(ids), 1), 1.0 / 8.0),
        np.ones(1),
        np.asarray([tolerance]),
        labels,
        2,
        np.ones(len(ids), dtype=bool),
        np.zeros(2, dtype=bool),
        Weights(compactness=0.02, move_cost=30.0, margin=0.98, centring=0.0),
        original=original,
        move_weight=np.ones(len(ids)),
    )
    search.penalty = HOLD
    return ids, search


def _column_row(ids):
    return np.asarray([int(i[1:].split("-")[0]) for i in ids]), np.asarray([int(i.split("-")[1]) for i in ids])


def test_two_units_that_swapped_territories_go_back_together():
    ids, geoms = square_grid(4, 4)
    columns, rows = _column_row(ids)
    original = (columns >= 2).astype(np.int64)  # left half 0, right half 1
    labels = original.copy()
    swapped_out = int(np.flatnonzero((columns == 1) & (rows == 0))[0])  # now in the right territory
    swapped_in = int(np.flatnonzero((columns == 2) & (rows == 3))[0])  # now in the left territory
    labels[swapped_out], labels[swapped_in] = 1, 0
    _, search = _search(labels, original)
    assert search.max_excess() <= 1.0
    search.descend(time.monotonic() + 10)
    assert (search.labels != original).sum() == 2  # neither can go home alone: 12.5% off is outside 5%

    assert search.undo_moves_by_milp(time.monotonic() + 10)

    assert (search.labels == original).all()
    assert search.max_excess() <= 1.0


def test_a_move_the_balance_needs_stays():
    ids, geoms = square_grid(4, 4)
    columns, rows = _column_row(ids)
    moved = int(np.flatnonzero((columns == 2) & (rows == 0))[0])
    original = (columns >= 2).astype(np.int64)
    original[moved] = 0  # the current alignment is 9 against 7 units, 12.5% off
    labels = original.copy()
    labels[moved] = 1  # the realignment moved one unit: 8 and 8
    _, search = _search(labels, original)
    assert search.max_excess() <= 1.0

    assert not search.undo_moves_by_milp(time.monotonic() + 10)

    assert search.labels[moved] == 1
    assert search.max_excess() <= 1.0
