"""Realignment by relocating one territory: close it where the market shrank, open it again where it grew.

After a shift that concentrates load in a few growth markets, border moves carry the excess outward territory by
territory: every hop moves the load again (on the bench's hexes at k = 50, three hops on average, about 12% of the
revenue however the moves are chosen). Sales organisations answer such a shift by moving a position: one territory
far from the growth, whose neighbours all have room, is closed (its units go to those neighbours), and its name is
given to half of the most overloaded territory. That moves the closed territory's units and half of the growth
territory once, instead of load along every chain.

`relocation_start` builds such starts for the most overloaded territory and the most underloaded candidates, scores
each (and the unchanged alignment) by the min-cost transfers alone, and returns the best start only when its
transfers leave no more excess and move less move weight than the unchanged alignment's. The realignment then runs
from it as from the current alignment; moves are still costed against the current alignment, so the closed
territory's units and the growth territory's half count as moved. The report names both (`relocation`).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from . import clock
from .engine import Search, make_contiguous
from .transfer import rebalance_by_transfers

NEIGHBOUR_ROOM = 0.6  # every neighbour of a territory to close is at least this many tolerances under on every measure
MAX_CANDIDATES = 16


def relocation_start(
    search: Search, move_weight: np.ndarray, deadline: float
) -> tuple[np.ndarray | None, dict | None]:
    """(labels, what was relocated) of the best relocation start, or (None, None) when none beats the unchanged
    alignment after the min-cost transfers. `search` is left at the labels it had."""
    start = search.labels.copy()
    original = search.original if search.original is not None else start
    total = float(move_weight.sum()) or 1.0

    def transfers_from(labels: np.ndarray) -> tuple[float, float]:
        search.set_labels(labels)
        rebalance_by_transfers(search, move_weight, deadline)
        return search.max_excess(), float(move_weight[search.labels != original].sum() / total)

    grown, candidates = _candidates(search)
    if grown is None or not candidates:
        return None, None
    unchanged = transfers_from(start)
    scored = []
    for closed in candidates:
        if clock.now() > deadline:
            break
        labels = _close_and_reopen(search, start, grown, closed, move_weight)
        if labels is not None:
            scored.append((*transfers_from(labels), closed, labels))
    search.set_labels(start)
    if not scored:
        return None, None
    # the largest excess left is mostly the same hot spot whichever territory closes: among the starts within a
    # tenth of a tolerance of the least, the one moving least
    least = min(item[0] for item in scored)
    excess, moved, closed, labels = min((item for item in scored if item[0] <= least + 0.1), key=lambda item: item[1])
    if excess > unchanged[0] + 1e-9 or moved >= unchanged[1]:
        return None, None
    return labels, {
        "closed": int(closed),
        "reopened_in": int(grown),
        "candidates_scored": len(candidates),
        "after_transfers": {"max_excess": round(excess, 3), "move_weight_moved_share": round(moved, 4)},
        "unchanged_after_transfers": {
            "max_excess": round(unchanged[0], 3),
            "move_weight_moved_share": round(unchanged[1], 4),
        },
    }


def _candidates(search: Search) -> tuple[int | None, list[int]]:
    """The most overloaded free territory (beyond its tolerance), and the territories that could close: free, holding
    no pinned unit, not touching it, under the mean on every measure, with free neighbours that all have room."""
    k, lab = search.k, search.labels
    deviation = (search.sums - 1.0) / search.tol  # k × m, in tolerances
    pinned = np.bincount(lab[~search.movable], minlength=k) > 0
    free = ~search.frozen
    over = np.where(free & ~pinned, deviation.max(axis=1), -np.inf)
    grown = int(np.argmax(over))
    if not over[grown] > 1.0:
        return None, []
    a, b = lab[search.edge_source], lab[search.edge_target]
    cross = a != b
    pairs = np.unique(a[cross] * k + b[cross])
    neighbours: list[list[int]] = [[] for _ in range(k)]
    for pair in pairs.tolist():
        neighbours[pair // k].append(pair % k)
    candidates = [
        t
        for t in range(k)
        if t != grown
        and free[t]
        and not pinned[t]
        and grown not in neighbours[t]
        and neighbours[t]
        and (deviation[t] < 0).all()
        and all(free[s] and (deviation[s] < -NEIGHBOUR_ROOM).all() for s in neighbours[t])
    ]
    candidates.sort(key=lambda t: float(deviation[t].mean()))  # the emptiest first
    return grown, candidates[:MAX_CANDIDATES]


def _close_and_reopen(
    search: Search,
    labels: np.ndarray,
    grown: int,
    closed: int,
    move_weight: np.ndarray,
) -> np.ndarray | None:
    """`closed`'s units go to the neighbouring territory whose border is nearest (breadth-first from its border);
    `grown` is cut across its long axis at half of the measure it is most over on, and the half of less move weight
    takes `closed`'s name."""
    lab = labels.copy()
    indptr, indices = search.geo.indptr, search.geo.indices
    inside = np.flatnonzero(lab == closed)
    owner: dict[int, int] = {}
    queue: deque[tuple[int, int]] = deque()
    for u in inside.tolist():
        for v in indices[indptr[u] : indptr[u + 1]].tolist():
            if lab[v] != closed:
                queue.append((u, int(lab[v])))
    while queue:
        u, t = queue.popleft()
        if u in owner:
            continue
        owner[u] = t
        for v in indices[indptr[u] : indptr[u + 1]].tolist():
            if lab[v] == closed and v not in owner:
                queue.append((v, t))
    if len(owner) < len(inside):
        return None  # part of it touches nothing but itself (an island): keep it
    for u, t in owner.items():
        lab[u] = t
    units = np.flatnonzero((lab == grown) & search.movable)
    if len(units) < 2:
        return None
    xy = np.stack([search.x[units], search.y[units]], axis=1)
    xy -= xy.mean(axis=0)
    axis = np.linalg.svd(xy, full_matrices=False)[2][0]
    order = np.argsort(xy @ axis, kind="stable")
    worst = int(np.argmax((search.sums[grown] - 1.0) / search.tol[grown]))  # the measure it is most over on
    cumulative = np.cumsum(search.values[units[order], worst])
    cut = int(np.searchsorted(cumulative, cumulative[-1] / 2.0))
    first, second = units[order[: cut + 1]], units[order[cut + 1 :]]
    half = first if move_weight[first].sum() <= move_weight[second].sum() else second
    lab[half] = closed
    # a piece cut off keeps the name of the part with the most move weight: the fewest moves
    return make_contiguous(lab, search.geo, move_weight, search.k, ~search.movable, search.geo.x, search.geo.y,
                           search.frozen)
