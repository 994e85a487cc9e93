"""Realignment by transfers: which territory should hand how much to which neighbour, then which
boundary units realise each hand-over at the least move weight.

1. A min-cost flow on the territory adjacency graph (a linear programme solved by HiGHS): every
   free territory must end inside the band, flows go between adjacent territories only, and a unit
   of flow across the a→b boundary costs what the cheapest boundary units of a next to b cost per
   unit of load (move weight / load). Passing load along a chain costs once per hop, so the
   programme balances by the shortest, cheapest routes.
2. Each flow a→b is realised by moving boundary units of a that touch b, cheapest move weight per
   useful load first, never disconnecting a, until the flow is delivered. Units already moved
   are not moved again, and units returning to their original territory cost nothing.
The flow and the realisation are repeated a few times with the updated sums; the local search
then only mends what is left on the individual measures.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from . import clock
from .engine import Search


def _arcs(search: Search) -> tuple[np.ndarray, np.ndarray]:
    lab = search.labels
    a, b = lab[search.edge_source], lab[search.edge_target]
    keep = (a != b) & ~search.frozen[a] & ~search.frozen[b]
    pairs = np.unique(a[keep] * search.k + b[keep])
    return pairs // search.k, pairs % search.k


def _flows(
    search: Search, load: np.ndarray, cost_ratio: np.ndarray, band: float, stalled: set[tuple[int, int]] | None = None
) -> dict[tuple[int, int], float]:
    """Min-cost transfers between adjacent free territories bringing every load into 1 ± band;
    arcs whose delivery stalled before (every unit of a on the border is an articulation point of
    it, a thin neck) cost much more, so the load goes round them."""
    k = search.k
    src, dst = _arcs(search)
    if len(src) == 0:
        return {}
    lab = search.labels
    sums = np.bincount(lab, load, minlength=k)
    # cost of an arc: a low quantile of move weight per load among a's units touching b
    edge_a, edge_b = lab[search.edge_source], lab[search.edge_target]
    boundary = (edge_a != edge_b) & search.movable[search.edge_source]
    unit_keys = np.unique(search.edge_source[boundary] * k + edge_b[boundary])
    units, towards = unit_keys // k, unit_keys % k
    arc_key = lab[units] * k + towards
    order = np.lexsort((cost_ratio[units], arc_key))
    arc_key, ratios = arc_key[order], cost_ratio[units][order]
    starts = np.searchsorted(arc_key, src * k + dst, side="left")
    stops = np.searchsorted(arc_key, src * k + dst, side="right")
    cost = np.empty(len(src))
    for i, (lo, hi) in enumerate(zip(starts.tolist(), stops.tolist(), strict=False)):
        if hi <= lo:
            cost[i] = 1e3
        else:
            cost[i] = float(ratios[lo + (hi - lo) // 4]) + 0.05  # a quarter of the way up, plus a hop cost
    if stalled:
        for i, (a, b) in enumerate(zip(src.tolist(), dst.tolist(), strict=False)):
            if (a, b) in stalled:
                cost[i] += 100.0
    free = np.flatnonzero(~search.frozen)
    position = np.full(k, -1, dtype=np.int64)
    position[free] = np.arange(len(free))
    nf = len(free)
    arcs = len(src)
    # variables: arc flows, then a slack above and below per free territory (always feasible)
    rows = np.concatenate([position[src], position[dst], np.arange(nf), np.arange(nf)])
    cols = np.concatenate([np.arange(arcs), np.arange(arcs), arcs + np.arange(nf), arcs + nf + np.arange(nf)])
    data = np.concatenate([-np.ones(arcs), np.ones(arcs), np.ones(nf), -np.ones(nf)])
    matrix = sparse.csr_matrix((data, (rows, cols)), shape=(nf, arcs + 2 * nf))
    base = sums[free]
    objective = np.concatenate([cost, np.full(2 * nf, 1e4)])
    result = linprog(
        objective,
        A_ub=sparse.vstack([matrix, -matrix]),
        b_ub=np.concatenate([1.0 + band - base, -(1.0 - band - base)]),
        bounds=(0, None),
        method="highs",
    )
    if result.x is None:
        return {}
    flow = result.x[:arcs]
    return {(int(a), int(b)): float(f) for a, b, f in zip(src, dst, flow, strict=False) if f > 1e-6}


def _deliver(
    search: Search, a: int, b: int, amount: float, load: np.ndarray, price: np.ndarray, moved: np.ndarray, slack: float
):
    """Move boundary units of a that touch b, cheapest per useful load first, until `amount` of
    load has gone over (or nothing useful is left)."""
    lab = search.labels
    remaining = amount
    tried: set[int] = set()
    while remaining > 1e-3:
        in_a = (lab[search.edge_source] == a) & (lab[search.edge_target] == b)
        units = np.unique(search.edge_source[in_a])
        units = units[search.movable[units] & ~moved[units]]
        if tried:
            units = units[~np.isin(units, list(tried))]
        if len(units) == 0 or search.count[a] <= 1:
            break
        # a unit may overshoot the flow by `slack` (units are lumpy: the flow is a continuous estimate)
        useful = load[units] <= 2.0 * remaining + slack  # overshooting by less than the need still helps
        if not useful.any():
            break
        units = units[useful]
        gain = np.minimum(load[units], remaining) + 1e-9
        ratio = price[units] / gain
        for index in np.argsort(ratio, kind="stable").tolist():
            u = int(units[index])
            if search.keeps_connected(u, a):
                search.apply(u, b)
                moved[u] = True
                remaining -= float(load[u])
                break
            tried.add(u)
        else:
            break
    return amount - remaining


def rebalance_by_transfers(
    search: Search, move_weight: np.ndarray, deadline: float, band_share: float = 0.9, passes: int = 8
) -> None:
    """Bring the free territories of `search` near the band by min-cost transfers (see module)."""
    weights = search.weights / search.weights.sum()
    load = search.values @ weights
    free_units = ~search.frozen[search.labels]
    total = float(move_weight[free_units].sum()) or 1.0
    nf = max(int((~search.frozen).sum()), 1)
    scaled = move_weight / total * nf  # the same scale as load: a mean territory holds 1 of each
    with np.errstate(divide="ignore", invalid="ignore"):
        cost_ratio = np.where(load > 1e-12, scaled / np.maximum(load, 1e-12), 1e3)
    original = search.original if search.original is not None else search.labels.copy()
    band = float(search.tolerances.min()) * band_share
    stalled: set[tuple[int, int]] = set()
    for _ in range(passes):
        if clock.now() > deadline or search.max_excess() <= band_share:
            break
        flows = _flows(search, load, cost_ratio, band, stalled)
        if not flows:
            break
        # a unit moved in this pass is not moved again in it; a unit going home costs nothing
        moved = np.zeros(search.n, dtype=bool)
        for (a, b), amount in sorted(flows.items(), key=lambda item: -item[1]):
            if clock.now() > deadline:
                break
            price = np.where(original == b, 0.0, scaled)
            delivered = _deliver(search, a, b, amount, load, price, moved, band * 0.5)
            if delivered < 0.5 * amount:
                stalled.add((a, b))
