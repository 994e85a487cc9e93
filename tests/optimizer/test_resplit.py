"""Design's last phase: two or three neighbouring territories are merged and cut again by straight lines where every
part balances and the parts are roundest; a re-split is kept only when the mean Polsby-Popper rises."""

import time

import numpy as np

from territories.optimizer import UnitSet, design
from territories.optimizer.engine import HOLD, Search, Weights

from .conftest import square_grid


def _search(columns, rows, labels, k, tolerance=0.05):
    ids, geoms = square_grid(columns, rows)
    units = UnitSet(ids, geoms, {"v": np.ones(len(ids))})
    per_territory = len(ids) / k
    search = Search(
        units.geography,
        np.full((len(ids), 1), 1.0 / per_territory),
        np.ones(1),
        np.asarray([tolerance]),
        np.asarray(labels),
        k,
        np.ones(len(ids), dtype=bool),
        np.zeros(k, dtype=bool),
        Weights(margin=0.95, linear_pp=True, perimeter_share=1.0),
    )
    search.penalty = HOLD
    return ids, search


def _cell(ids):
    return [tuple(int(part) for part in i[1:].split("-")) for i in ids]


def _comb():
    """8 × 4 cells; territory 0 is a comb whose teeth reach into territory 1: balanced (16 each) but ragged."""
    ids, _ = square_grid(8, 4)
    labels = [0 if (row == 0 or column % 2 == 0) and not (row == 3 and column % 2 == 0 and column >= 4) else 1
              for column, row in _cell(ids)]
    labels = np.asarray(labels)
    labels[np.flatnonzero(labels == 0)[16:]] = 1  # exactly 16 each
    return _search(8, 4, labels, 2)


def test_two_interlocked_territories_are_cut_straight():
    ids, search = _comb()
    before = search.mean_polsby_popper()
    assert search.max_excess() <= 1.0

    assert search._resplit_straight([0, 1])

    assert search.max_excess() <= 1.0 and set(search.count.tolist()) == {16}
    assert search.mean_polsby_popper() > before + 0.2
    cells = _cell(ids)
    for t in range(2):  # two blocks of 4 × 4 cells, the roundest halves
        held = [cells[i] for i in np.flatnonzero(search.labels == t)]
        assert len({column for column, _ in held}) == 4 and len({row for _, row in held}) == 4


def test_three_territories_are_cut_into_three_balanced_parts():
    # 9 × 3 cells in three territories of 9 cells wound round each other
    ids, _ = square_grid(9, 3)
    cells = _cell(ids)
    labels = np.zeros(len(ids), dtype=np.int64)
    snake = sorted(range(len(ids)), key=lambda i: (cells[i][1], cells[i][0] if cells[i][1] % 2 == 0 else -cells[i][0]))
    for position, i in enumerate(snake):  # a boustrophedon cut into thirds: three long strips
        labels[i] = position // 9
    _, search = _search(9, 3, labels, 3)
    before = search.mean_polsby_popper()

    assert search._resplit_straight([0, 1, 2])

    assert search.max_excess() <= 1.0 and set(search.count.tolist()) == {9}
    assert search.mean_polsby_popper() > before + 0.2  # three 3 × 3 squares instead of three 9 × 1 strips
    for t in range(3):
        columns = {cells[i][0] for i in np.flatnonzero(search.labels == t)}
        assert len(columns) == 3


def test_resplitting_keeps_the_band_never_lowers_the_mean_and_repeats_with_the_seed(grid_units):
    balance = {"population": (1.0, 0.03)}
    plans = [design(grid_units, 6, balance, seed=1, time_limit=30, weights=Weights(resplit_attempts_per_territory=r))
             for r in (0, 5, 5)]
    without, with_, again = (plan.report for plan in plans)
    for report in (without, with_):
        assert report["within_tolerance"] and report["contiguous"]
    assert with_["polsby_popper_mean"] >= without["polsby_popper_mean"]
    assert plans[1].assignment == plans[2].assignment


def test_improve_rounds_the_comb_and_stops_at_its_deadline():
    _, late = _comb()
    before = late.labels.copy()
    assert late.improve_by_resplitting(time.monotonic() - 1.0, np.random.default_rng(0), 10) == 0
    assert (late.labels == before).all()

    _, search = _comb()
    assert search.improve_by_resplitting(time.monotonic() + 30.0, np.random.default_rng(0), 10) >= 1
    assert search.max_excess() <= 1.0 and search.mean_polsby_popper() > late.mean_polsby_popper() + 0.2
