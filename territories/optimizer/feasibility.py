"""Which units cannot be in any balanced territory, whatever the rest of the plan does.

A territory is a connected set of units. For a unit u and a measure, grow every connected set that
contains u, one neighbouring unit at a time, and stop growing a set as soon as its sum passes the
top of the band (values are not negative, so adding units only makes it larger). If no set ever
lands inside the band the unit is proven unbalanceable: every territory that holds it is off by at
least the gap to the nearest sum that can be reached (the largest set sum below the band or the
smallest one above it; both are exact, because every connected set containing u is reached by
adding its units in some order, and each prefix below the top is enumerated).

This happens where big units sit in dead ends: Long Island behind Queens, Orange County between Los
Angeles (its own oversize territory) and other counties too large to pair with it. The enumeration
stops as soon as a set inside the band is found (the usual case, in a few steps, trying large
neighbours first) or after `cap` sets (then the unit is taken as balanceable).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components


@dataclass(frozen=True)
class Bound:
    """A unit whose territory cannot be within the band on `measure`: the nearest reachable
    territory sums are `below` and `above` (in means; None when there is none)."""

    unit: int
    measure: int
    below: float | None
    above: float | None
    group: frozenset[int] = frozenset()  # a connected set holding the unit at the least deviation

    @property
    def best_deviation(self) -> float:
        gaps = [1.0 - self.below] if self.below is not None else []
        if self.above is not None:
            gaps.append(self.above - 1.0)
        return min(gaps) if gaps else float("inf")


def _connected_sums(
    start: int, column: np.ndarray, neighbours: list[list[int]], blocked: np.ndarray, low: float, high: float, cap: int
) -> tuple[bool, float | None, float | None, frozenset[int]]:
    """(feasible or unknown, largest reachable sum below `low`, smallest reachable sum above `high`,
    the connected set of the one nearer to the band)."""
    below: float | None = None
    above: float | None = None
    first = float(column[start])
    alone = frozenset((start,))
    if low <= first <= high:
        return True, None, None, alone
    if first > high:
        return False, None, first, alone
    below_set = above_set = alone
    seen = {alone}
    stack = [(alone, first)]
    while stack:
        members, total = stack.pop()
        if below is None or total > below:
            below, below_set = total, members
        frontier = {v for u in members for v in neighbours[u] if v not in members and not blocked[v]}
        # larger neighbours last on the stack, so they are grown first: reaches the band quickly
        for v in sorted(frontier, key=lambda v: (column[v], v)):
            grown = members | {v}
            if grown in seen:
                continue
            seen.add(grown)
            if len(seen) > cap:
                return True, None, None, grown  # too many sets: not proven, taken as balanceable
            value = total + float(column[v])
            if value > high:
                if above is None or value < above:
                    above, above_set = value, grown
            elif value >= low:
                return True, None, None, grown
            else:
                stack.append((grown, value))
    gap_below = 1.0 - below if below is not None else np.inf
    gap_above = above - 1.0 if above is not None else np.inf
    return False, below, above, (below_set if gap_below <= gap_above else above_set)


def _greedy_fit(
    start: int, column: np.ndarray, neighbours: list[list[int]], blocked: np.ndarray, low: float, high: float
) -> set[int] | None:
    """Grow from `start` adding the largest neighbouring unit that still fits under `high`: the
    units once the sum reaches `low`, or None (a sufficient test, enough for almost every unit;
    the set found proves every unit in it balanceable)."""
    total = float(column[start])
    members = {start}
    frontier = {v for v in neighbours[start] if not blocked[v]}
    while total < low:
        room = high - total
        best, best_value = -1, -1.0
        for v in frontier:
            value = column[v]
            if best_value < value <= room:
                best, best_value = v, value
        if best < 0:
            return None
        members.add(best)
        frontier.discard(best)
        total += float(best_value)
        frontier.update(w for w in neighbours[best] if w not in members and not blocked[w])
    return members if total <= high else None


def unbalanceable_units(
    neighbours: list[list[int]],
    values: np.ndarray,  # n × m, divided by the mean territory sum
    tolerances: np.ndarray,  # m
    weights: np.ndarray,  # m: measures with weight 0 are not held to the band
    blocked: np.ndarray,  # n bool: units that cannot join (frozen territories)
    cap: int = 3000,
) -> list[Bound]:
    """The units proven unbalanceable, one Bound each (its worst measure)."""
    bounds: list[Bound] = []
    n, m = values.shape
    held = [j for j in range(m) if weights[j] > 0]
    covered = np.zeros((n, m), dtype=bool)  # already in a balanced connected set found earlier
    source = np.repeat(np.arange(n), [len(row) for row in neighbours])
    target = np.asarray([v for row in neighbours for v in row], dtype=np.int64)
    for j in held:
        # Units no larger than the band's width, in a connected region of such units whose sum
        # reaches the band: growing inside the region, the sum cannot jump over the band.
        small = (values[:, j] <= 2.0 * tolerances[j]) & ~blocked
        keep = small[source] & small[target]
        graph = sparse.csr_matrix((np.ones(int(keep.sum())), (source[keep], target[keep])), shape=(n, n))
        _, region = connected_components(graph, directed=False)
        region_sum = np.bincount(region, np.where(small, values[:, j], 0.0))
        covered[:, j] = small & (region_sum[region] >= 1.0 - tolerances[j])
    for u in range(n):
        if blocked[u]:
            continue
        worst: Bound | None = None
        for j in held:
            if covered[u, j]:
                continue
            column = values[:, j]
            found = _greedy_fit(u, column, neighbours, blocked, 1.0 - tolerances[j], 1.0 + tolerances[j])
            if found is not None:
                covered[list(found), j] = True
                continue
            ok, below, above, group = _connected_sums(
                u, column, neighbours, blocked, 1.0 - tolerances[j], 1.0 + tolerances[j], cap
            )
            if ok:
                continue
            bound = Bound(u, j, below, above, group)
            if worst is None or bound.best_deviation / tolerances[j] > worst.best_deviation / tolerances[worst.measure]:
                worst = bound
        if worst is not None:
            bounds.append(worst)
    return bounds


def limited_groups(
    bounds: list[Bound],
    neighbours: list[list[int]],
    values: np.ndarray,
    tolerances: np.ndarray,
    blocked: np.ndarray,
    cap: int = 3000,
) -> list[frozenset[int]]:
    """Disjoint groups to start the territories of unbalanceable units from: the unit with the
    largest unavoidable deviation first, each taking the connected set that realises its least
    deviation among the units not yet taken (where the others' groups leave it a balanced set, none)."""
    taken = blocked.copy()
    groups: list[frozenset[int]] = []
    for bound in sorted(bounds, key=lambda b: (-b.best_deviation, b.unit)):
        if taken[bound.unit]:
            continue
        group = bound.group
        if any(taken[v] for v in group):
            j = bound.measure
            ok, _, _, group = _connected_sums(
                bound.unit, values[:, j], neighbours, taken, 1.0 - tolerances[j], 1.0 + tolerances[j], cap
            )
            if ok:
                continue
        taken[list(group)] = True
        groups.append(group)
    return groups
