"""The search: a balanced power-diagram start, then contiguity-preserving boundary moves.

All sums are kept per territory and updated incrementally; every round evaluates the move of every
boundary unit to every neighbouring territory at once with NumPy, then applies the best improving
moves that touch distinct territories (so each evaluated change stays exact), checking that the
donor territory stays connected with a breadth-first search that stops as soon as the moved unit's
neighbours are found to be linked.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy import sparse
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree

from . import clock
from .graph import Geography
from .programme import solve_programme

HOLD = 1e6  # balance penalty once within tolerance: the band becomes a hard limit


@dataclass
class Weights:
    """How the objective is put together; see README.md."""

    compactness: float = 1.0  # weight of the compactness term
    perimeter_share: float = 0.6  # share of 1/Polsby-Popper in it; the rest is normalised inertia
    margin: float = 0.75  # penalty starts at margin × tolerance while balancing, leaving room
    polish_margin: float = 0.95  # once balanced, shape may use the band up to this share of it
    centring: float = 0.02  # small pull towards the mean even inside the tolerance band
    linear_pp: bool = False  # compactness as 1 − Polsby-Popper (mean) instead of 1/PP (worst)
    move_cost: float = 0.0  # realignment: cost of moving a unit, per unit of move weight share
    polish_mean_pp: bool = True  # design: a last descent on the mean Polsby-Popper alone (see README)
    both_starts: bool = False  # design: search from the power diagram and from bisection too, keep the better (README)
    far_start_excess: float = 8.0  # design: a power-diagram start this far off is searched from bisection too (README)
    resplit_attempts_per_territory: int = 10  # design: straight re-splits of 2-3 territories on the mean PP (README)
    resplit_max_attempts: int = 250  # each costs a descent over the whole plan (about 30 ms at 5,000 units)


def _at_most_one_move_per_unit(unit: np.ndarray, blocks: tuple[list, list, list, list, list]):
    """Append to a programme's (rows, cols, data, lower, upper) the rows saying that each unit takes at most one of
    the moves (one variable per entry of `unit`, rows from 0). Returns the distinct units and each move's row."""
    units_moving, slot = np.unique(unit, return_inverse=True)
    rows, cols, data, lower, upper = blocks
    rows.append(slot)
    cols.append(np.arange(len(unit)))
    data.append(np.ones(len(unit)))
    lower.append(np.full(len(units_moving), -np.inf))
    upper.append(np.ones(len(units_moving)))
    return units_moving, slot


class Search:
    """Incremental state of one partition and the moves that improve it."""

    def __init__(
        self,
        geo: Geography,
        values: np.ndarray,  # n × m, each column divided by its target (the mean territory sum)
        weights: np.ndarray,  # m
        tolerances: np.ndarray,  # m
        labels: np.ndarray,  # n, in 0..k-1
        k: int,
        movable: np.ndarray,  # n bool
        frozen: np.ndarray,  # k bool: territories that neither give nor take units
        settings: Weights,
        original: np.ndarray | None = None,
        move_weight: np.ndarray | None = None,
        unit_slack: np.ndarray | None = None,
    ):
        self.geo = geo
        self.n = len(labels)
        self.k = k
        self.values = values
        self.weights = weights
        self.tolerances = tolerances
        # n × m: how far beyond the tolerance a territory holding the unit must be allowed to go
        # because geography leaves it no balanced territory (feasibility.py); zero almost everywhere
        self.slack_units = np.zeros(0, dtype=np.int64)
        if unit_slack is not None and unit_slack.any():
            self.slack_units = np.flatnonzero(unit_slack.any(axis=1))
            self.unit_slack = unit_slack[self.slack_units]
        self.settings = settings
        self.movable = movable
        self.frozen = frozen
        self.area = geo.area / 1e6  # km²
        self.perimeter = geo.perimeter / 1e3
        self.x = geo.x / 1e3
        self.y = geo.y / 1e3
        self.second_moment = self.area * (self.x**2 + self.y**2)
        indptr, indices = geo.indptr, geo.indices
        self.edge_source = np.repeat(np.arange(self.n), np.diff(indptr))
        self.edge_target = indices
        self.edge_length = geo.shared / 1e3
        self.neighbours = geo.neighbours()
        self.penalty = 1.0
        self.original = original
        if move_weight is not None and original is not None:
            total = float(move_weight.sum()) or 1.0
            self.move_cost = settings.move_cost * move_weight / total * k
        else:
            self.move_cost = None
        self.set_labels(labels)

    # ----- state -----------------------------------------------------------------------------
    def set_labels(self, labels: np.ndarray) -> None:
        k = self.k
        self.labels = labels.astype(np.int64).copy()
        self.label_list = self.labels.tolist()
        lab = self.labels
        self.count = np.bincount(lab, minlength=k).astype(np.int64)
        self.sums = np.zeros((k, self.values.shape[1]))
        np.add.at(self.sums, lab, self.values)
        self.territory_area = np.bincount(lab, self.area, minlength=k)
        self.moment_x = np.bincount(lab, self.area * self.x, minlength=k)
        self.moment_y = np.bincount(lab, self.area * self.y, minlength=k)
        self.moment_2 = np.bincount(lab, self.second_moment, minlength=k)
        inside = lab[self.edge_source] == lab[self.edge_target]
        internal = np.bincount(lab[self.edge_source[inside]], self.edge_length[inside], minlength=k)
        self.territory_perimeter = np.bincount(lab, self.perimeter, minlength=k) - internal
        self.update_tolerances()

    def update_tolerances(self) -> None:
        """Per territory and measure: the tolerance, widened where a unit in the territory cannot be
        in any balanced territory (by the least deviation its geography allows)."""
        tol = np.tile(self.tolerances, (self.k, 1))
        if len(self.slack_units):
            widened = np.zeros_like(tol)
            np.maximum.at(widened, self.labels[self.slack_units], self.unit_slack)
            tol += widened
        self.tol = tol

    def _balance_terms(self, sums: np.ndarray, territories: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Penalty × squared excess beyond the margin, plus a weak pull towards the mean that does
        not grow with the penalty (so inside the band compactness decides)."""
        deviation = np.abs(sums - 1.0) / self.tol[territories]
        excess = np.maximum(deviation - self.settings.margin, 0.0)
        return (self.penalty * excess**2 + self.settings.centring * deviation**2) @ self.weights

    def _compact_terms(self, area, moment_x, moment_y, moment_2, perimeter) -> np.ndarray:
        area = np.maximum(area, 1e-12)
        inertia = np.maximum(moment_2 - (moment_x**2 + moment_y**2) / area, 0.0)
        share = self.settings.perimeter_share
        if self.settings.linear_pp:
            outline = 4.0 * (1.0 - 4.0 * math.pi * area / np.maximum(perimeter, 1e-12) ** 2)
        else:
            outline = perimeter**2 / (4.0 * math.pi * area)
        return self.settings.compactness * (share * outline + (1.0 - share) * 2.0 * math.pi * inertia / area**2)

    def territory_objective(self, include_balance: bool = True) -> np.ndarray:
        terms = (self._balance_terms(self.sums) if include_balance else 0.0) + self._compact_terms(
            self.territory_area, self.moment_x, self.moment_y, self.moment_2, self.territory_perimeter
        )
        terms[self.frozen] = 0.0
        return terms

    def objective(self) -> float:
        total = float(self.territory_objective().sum())
        if self.move_cost is not None:
            total += float(self.move_cost[self.labels != self.original].sum())
        return total

    def mean_polsby_popper(self) -> float:
        """Mean 4πA/P² over the free territories, from the running sums (exact: the perimeter is the
        sum of the units' perimeters less twice the boundary they share inside the territory)."""
        free = ~self.frozen & (self.count > 0)
        if not free.any():
            return 0.0
        return float(self.polsby_popper()[free].mean())

    def polsby_popper(self) -> np.ndarray:
        """4πA/P² of every territory, from the running sums."""
        area, perimeter = self.territory_area, np.maximum(self.territory_perimeter, 1e-12)
        return 4.0 * math.pi * area / perimeter**2

    def max_excess(self) -> float:
        """Largest |deviation| / tolerance over free territories and measures (≤ 1 is feasible)."""
        free = ~self.frozen
        if not free.any():
            return 0.0
        deviation = np.abs(self.sums[free] - 1.0) / self.tol[free]
        return float(deviation.max())

    # ----- moves -----------------------------------------------------------------------------
    def candidate_moves(self, include_balance: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every (unit, neighbouring territory) move with its exact change of the objective
        (without the balance terms when `include_balance` is false)."""
        lab = self.labels
        k = self.k
        source_label = lab[self.edge_source]
        target_label = lab[self.edge_target]
        boundary = (source_label != target_label) & self.movable[self.edge_source]
        boundary &= ~self.frozen[source_label] & ~self.frozen[target_label]
        if not boundary.any():
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, np.zeros(0)
        keys = np.unique(self.edge_source[boundary] * k + target_label[boundary])
        unit = keys // k
        to = keys % k
        frm = lab[unit]
        keep = self.count[frm] > 1
        unit, to, frm = unit[keep], to[keep], frm[keep]
        # shared boundary of each unit with each territory, only for the units concerned
        shared_keys = self.edge_source * k + target_label
        relevant = np.isin(self.edge_source, unit)
        table_keys, inverse = np.unique(shared_keys[relevant], return_inverse=True)
        table_values = np.bincount(inverse, self.edge_length[relevant])
        shared_from = _lookup(table_keys, table_values, unit * k + frm)
        shared_to = _lookup(table_keys, table_values, unit * k + to)
        values = self.values[unit]
        area = self.area[unit]
        ax, ay, a2 = area * self.x[unit], area * self.y[unit], self.second_moment[unit]
        perim = self.perimeter[unit]
        old = self.territory_objective(include_balance)
        zero = np.zeros(len(unit))
        balance_from = self._balance_terms(self.sums[frm] - values, frm) if include_balance else zero
        new_from = balance_from + self._compact_terms(
            self.territory_area[frm] - area,
            self.moment_x[frm] - ax,
            self.moment_y[frm] - ay,
            self.moment_2[frm] - a2,
            self.territory_perimeter[frm] - perim + 2.0 * shared_from,
        )
        balance_to = self._balance_terms(self.sums[to] + values, to) if include_balance else zero
        new_to = balance_to + self._compact_terms(
            self.territory_area[to] + area,
            self.moment_x[to] + ax,
            self.moment_y[to] + ay,
            self.moment_2[to] + a2,
            self.territory_perimeter[to] + perim - 2.0 * shared_to,
        )
        delta = new_from + new_to - old[frm] - old[to]
        if self.move_cost is not None:
            original = self.original[unit]
            delta += self.move_cost[unit] * ((to != original).astype(float) - (frm != original).astype(float))
        return unit, frm, to, delta

    def keeps_connected(self, unit: int, territory: int) -> bool:
        """Whether removing `unit` leaves its neighbours in `territory` linked to each other."""
        labels = self.label_list
        neighbours = self.neighbours
        inside = [v for v in neighbours[unit] if labels[v] == territory]
        if len(inside) <= 1:
            return True
        missing = set(inside[1:])
        seen = {unit, inside[0]}
        queue = deque([inside[0]])
        connected = False
        while queue and not connected:
            current = queue.popleft()
            for nxt in neighbours[current]:
                if nxt not in seen and labels[nxt] == territory:
                    if nxt in missing:
                        missing.discard(nxt)
                        if not missing:
                            connected = True
                            break
                    seen.add(nxt)
                    queue.append(nxt)
        # a search can cross a whole territory (hundreds of units where k is small): the work clock counts it
        clock.spend(clock.CONNECTIVITY_UNIT_S * len(seen))
        return connected

    def apply(self, unit: int, to: int) -> None:
        frm = self.label_list[unit]
        lab = self.label_list
        shared_from = shared_to = 0.0
        start, stop = self.geo.indptr[unit], self.geo.indptr[unit + 1]
        for v, length in zip(
            self.edge_target[start:stop].tolist(), self.edge_length[start:stop].tolist(), strict=False
        ):
            if lab[v] == frm:
                shared_from += length
            elif lab[v] == to:
                shared_to += length
        values = self.values[unit]
        area = self.area[unit]
        self.sums[frm] -= values
        self.sums[to] += values
        self.territory_area[frm] -= area
        self.territory_area[to] += area
        self.moment_x[frm] -= area * self.x[unit]
        self.moment_x[to] += area * self.x[unit]
        self.moment_y[frm] -= area * self.y[unit]
        self.moment_y[to] += area * self.y[unit]
        self.moment_2[frm] -= self.second_moment[unit]
        self.moment_2[to] += self.second_moment[unit]
        self.territory_perimeter[frm] += -self.perimeter[unit] + 2.0 * shared_from
        self.territory_perimeter[to] += self.perimeter[unit] - 2.0 * shared_to
        self.count[frm] -= 1
        self.count[to] += 1
        self.labels[unit] = to
        lab[unit] = to

    def descend(self, deadline: float, max_rounds: int = 100000) -> int:
        """Apply improving moves until none is left; returns the number of moves made."""
        moves = 0
        for _ in range(max_rounds):
            if clock.now() > deadline:
                break
            if len(self.slack_units):
                self.update_tolerances()
            unit, frm, to, delta = self.candidate_moves()
            improving = np.flatnonzero(delta < -1e-9)
            if len(improving) == 0:
                break
            order = improving[np.argsort(delta[improving], kind="stable")]
            used: set[int] = set()
            applied = 0
            limit = max(1, (int((~self.frozen).sum()) // 2))
            for index in order.tolist():
                a, b = int(frm[index]), int(to[index])
                if a in used or b in used:
                    continue
                u = int(unit[index])
                if not self.keeps_connected(u, a):
                    continue
                self.apply(u, b)
                used.add(a)
                used.add(b)
                applied += 1
                if applied >= limit:
                    break
            moves += applied
            clock.spend(clock.DESCENT_CANDIDATE_S * len(unit) + clock.DESCENT_MOVE_S * applied)
            if applied == 0:
                break
        return moves

    def solve(
        self,
        deadline: float,
        start_penalty: float = 1.0,
        growth: float = 4.0,
        rounds: int = 14,
        rng: np.random.Generator | None = None,
        recombine: bool = True,
        milp_after: int = 1,
        stall_rounds: int = 4,
    ) -> None:
        """Descend, raising the balance penalty until every free territory is within tolerance;
        where single moves are stuck (large units, dead ends), re-split pairs of territories."""
        self.penalty = start_penalty
        rng = rng if rng is not None else np.random.default_rng(0)
        best = (np.inf, self.labels.copy())
        best_round = 0
        for round_number in range(rounds):
            self.descend(deadline)
            if self.max_excess() < best[0] - 1e-9:
                best = (self.max_excess(), self.labels.copy())
                best_round = round_number
            if self.max_excess() <= 1.0 or clock.now() > deadline:
                break
            if round_number - best_round >= stall_rounds:
                break  # stuck: neither penalty, programme nor recombination helps; another start may
            if round_number >= milp_after:
                for _ in range(6):  # each programme moves one layer of boundary units
                    before, before_excess = self.labels.copy(), self.max_excess()
                    if not self.balance_by_milp(deadline):
                        break
                    self.descend(deadline)
                    if self.max_excess() <= 1.0:
                        break
                    if self.max_excess() >= before_excess - 1e-6:  # no progress: undo, leave it to the penalty
                        self.set_labels(before)
                        break
                if self.max_excess() <= 1.0:
                    break
            if recombine and round_number >= 3:
                self.repair_by_recombination(deadline, rng)
                if self.max_excess() <= 1.0:
                    break
            self.penalty *= growth
        if self.max_excess() > best[0] + 1e-9:  # stopped by the clock in a worse state
            self.set_labels(best[1])
        # polish: leaving the tolerance band now costs more than any gain in shape, and shape may
        # use more of the band than the balancing aimed at
        if self.max_excess() <= 1.0:
            self.penalty = max(self.penalty, HOLD)
            margin = max(self.settings.margin, self.settings.polish_margin)
            self.settings = dataclasses.replace(self.settings, margin=margin)
        self.descend(deadline)

    # ----- balancing by a small integer programme --------------------------------------------
    def balance_by_milp(self, deadline: float) -> bool:
        """Pick a set of boundary moves that brings every free territory inside the band
        (margin × tolerance) at the least cost: loss of compactness in design, the move weight in
        realignment. Moving units are never articulation points of their territory nor adjacent
        to another moving unit, so territories stay connected (checked again when applied)."""
        remaining = deadline - clock.now()
        if remaining < 0.5:
            return False
        unit, frm, to, delta = self.candidate_moves(include_balance=False)
        if len(unit) == 0:
            return False
        # only the territories outside the band and their neighbours take part: a much smaller
        # programme than one over every boundary move, and the others keep their sums
        trouble = self.territory_excess() > self.settings.margin
        if not trouble.any():
            return False
        lab = self.labels
        touching = trouble[lab[self.edge_source]] & (lab[self.edge_source] != lab[self.edge_target])
        involved = trouble.copy()
        involved[lab[self.edge_target[touching]]] = True
        involved &= ~self.frozen
        articulation = self._articulation_units()
        keep = ~articulation[unit] & involved[frm] & involved[to]
        unit, frm, to, delta = unit[keep], frm[keep], to[keep], delta[keep]
        count = len(unit)
        if count == 0:
            return False
        cost = np.maximum(delta, 0.0) + 1e-3
        m = self.values.shape[1]
        free = np.flatnonzero(involved)
        nf = len(free)
        # variables: the moves, then for each free territory and measure a slack above and below the band
        slack_count = 2 * nf * m
        big = 1e3 * (float(cost.max()) + 1.0)
        objective = np.concatenate([cost, np.full(slack_count, big)])
        rows, cols, data, lower, upper = [], [], [], [], []
        units_moving, _slot = _at_most_one_move_per_unit(unit, (rows, cols, data, lower, upper))
        row = len(units_moving)
        # every free territory inside the band on every measure, or paying for the slack
        values = self.values[unit]
        position = np.full(self.k, -1, dtype=np.int64)
        position[free] = np.arange(nf)
        for measure in range(m):
            band = self.tol[free, measure] * min(0.97, self.settings.margin + 0.1)
            for territories, sign in ((frm, -1.0), (to, 1.0)):
                rows.append(row + position[territories])
                cols.append(np.arange(count))
                data.append(sign * values[:, measure])
            base = count + 2 * nf * measure
            rows.append(row + np.arange(nf))
            cols.append(base + np.arange(nf))
            data.append(np.ones(nf))  # s⁻ lifts a territory below the band
            rows.append(row + np.arange(nf))
            cols.append(base + nf + np.arange(nf))
            data.append(-np.ones(nf))  # s⁺ lowers one above it
            lower.append(1.0 - band - self.sums[free, measure])
            upper.append(1.0 + band - self.sums[free, measure])
            row += nf
        matrix = sparse.csr_matrix(
            (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=(row, count + slack_count)
        )
        solution = solve_programme(
            objective,
            matrix,
            np.concatenate(lower),
            np.concatenate(upper),
            integer=np.concatenate([np.ones(count, dtype=bool), np.zeros(slack_count, dtype=bool)]),
            upper=np.concatenate([np.ones(count), np.full(slack_count, np.inf)]),
            # the root alone: asked for often, and a longer search crowds out the rest (50 nodes took 5-7 s a
            # call in realignment at k = 50 and ended 5.5% off; the root alone, 1-2.5 s, reached the band)
            node_limit=1,
            gap=0.1,
            time_limit=max(10.0, remaining),
        )
        if solution is None:
            return False
        chosen = np.flatnonzero(solution[:count] > 0.5)
        applied = 0
        for index in chosen[np.argsort(cost[chosen], kind="stable")].tolist():
            u, source, target = int(unit[index]), int(frm[index]), int(to[index])
            if (
                self.label_list[u] == source
                and self.count[source] > 1
                and any(self.label_list[v] == target for v in self.neighbours[u])  # still touches its new territory
                and self.keeps_connected(u, source)
            ):
                self.apply(u, target)
                applied += 1
        return applied > 0

    def undo_moves_by_milp(self, deadline: float, band_share: float = 0.99) -> bool:
        """Realignment: once every territory is within the band, pick a set of boundary moves that
        lowers the move cost most (units going home, and units of less move weight leaving in
        exchange) while every free territory stays inside band_share × its tolerance on every
        measure. Single moves home stall where a territory has no room for one unit more or less; a
        programme finds the exchanges. Articulation units and neighbours of another moving unit are
        left out, so territories stay connected; the set is undone if applying it leaves the band."""
        if self.move_cost is None or deadline - clock.now() < 0.5:
            return False
        unit, frm, to, _ = self.candidate_moves(include_balance=False)
        if len(unit) == 0:
            return False
        original = self.original[unit]
        gain = self.move_cost[unit] * ((to != original).astype(float) - (frm != original).astype(float))
        keep = ~self._articulation_units()[unit]
        unit, frm, to, gain = unit[keep], frm[keep], to[keep], gain[keep]
        if not (gain < 0).any():
            return False
        count = len(unit)
        m = self.values.shape[1]
        free = np.flatnonzero(~self.frozen)
        nf = len(free)
        position = np.full(self.k, -1, dtype=np.int64)
        position[free] = np.arange(nf)
        rows, cols, data, lower, upper = [], [], [], [], []
        units_moving, slot = _at_most_one_move_per_unit(unit, (rows, cols, data, lower, upper))
        row = len(units_moving)
        # two neighbouring units do not both move (the connectivity of each move is checked alone)
        local = np.full(self.n, -1, dtype=np.int64)
        local[units_moving] = np.arange(len(units_moving))
        pair = (local[self.edge_source] >= 0) & (local[self.edge_target] >= 0) & (self.edge_source < self.edge_target)
        pairs = np.column_stack([local[self.edge_source[pair]], local[self.edge_target[pair]]])
        if len(pairs):
            moves_of = [[] for _ in range(len(units_moving))]
            for index, s_ in enumerate(slot.tolist()):
                moves_of[s_].append(index)
            for p_, (i, j) in enumerate(pairs.tolist()):
                for index in moves_of[i] + moves_of[j]:
                    rows.append(np.asarray([row + p_]))
                    cols.append(np.asarray([index]))
                    data.append(np.ones(1))
            lower.append(np.full(len(pairs), -np.inf))
            upper.append(np.ones(len(pairs)))
            row += len(pairs)
        values = self.values[unit]
        for measure in range(m):
            if self.weights[measure] <= 0:
                continue
            band = self.tol[free, measure] * band_share
            current = self.sums[free, measure]
            for territories, sign in ((frm, -1.0), (to, 1.0)):
                inside = position[territories] >= 0
                rows.append(row + position[territories][inside])
                cols.append(np.arange(count)[inside])
                data.append(sign * values[inside, measure])
            # never further out than now where a territory is already beyond this band
            lower.append(np.minimum(1.0 - band, current) - current)
            upper.append(np.maximum(1.0 + band, current) - current)
            row += nf
        matrix = sparse.csr_matrix(
            (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=(row, count)
        )
        solution = solve_programme(
            gain,
            matrix,
            np.concatenate(lower),
            np.concatenate(upper),
            integer=np.ones(count, dtype=bool),
            upper=np.ones(count),
            node_limit=1,
            gap=0.02,
            time_limit=max(10.0, deadline - clock.now()),
        )
        if solution is None:
            return False
        chosen = np.flatnonzero(solution > 0.5)
        if len(chosen) == 0 or float(gain[chosen].sum()) >= -1e-9:
            return False
        before = self.labels.copy()
        excess_before = self.max_excess()
        applied = 0
        for index in chosen.tolist():
            u, source, target = int(unit[index]), int(frm[index]), int(to[index])
            if self.label_list[u] == source and self.count[source] > 1 and self.keeps_connected(u, source):
                self.apply(u, target)
                applied += 1
        if applied == 0 or self.max_excess() > max(excess_before, band_share) + 1e-9:
            self.set_labels(before)
            return False
        return True

    def _articulation_units(self) -> np.ndarray:
        lab = self.labels
        same = lab[self.edge_source] == lab[self.edge_target]
        graph = nx.Graph()
        graph.add_nodes_from(range(self.n))
        graph.add_edges_from(zip(self.edge_source[same].tolist(), self.edge_target[same].tolist(), strict=False))
        mask = np.zeros(self.n, dtype=bool)
        mask[list(nx.articulation_points(graph))] = True
        return mask

    # ----- recombination (ReCom-style re-split of two territories) -----------------------------
    def territory_excess(self) -> np.ndarray:
        excess = (np.abs(self.sums - 1.0) / self.tol).max(axis=1)
        excess[self.frozen] = 0.0
        return excess

    def repair_by_recombination(
        self, deadline: float, rng: np.random.Generator, trees: int = 24, three: bool = True
    ) -> None:
        """For each territory out of tolerance, merge it with a neighbouring territory and cut a
        random spanning tree of the union where both sides balance (DeFord, Duchin & Solomon 2021),
        keeping the most compact cut found; a move only if it lowers the pair's worst excess."""
        excess = self.territory_excess()
        for a in np.argsort(-excess, kind="stable").tolist():
            if excess[a] <= 1.0 or clock.now() > deadline:
                break
            lab = self.labels
            touching = np.unique(lab[self.edge_target[lab[self.edge_source] == a]])
            touching = [int(b) for b in touching if b != a and not self.frozen[b]]
            rng.shuffle(touching)
            total = self.sums[a] + self.sums[touching] if touching else None
            if total is None:
                continue
            # most promising partners first: the union's total closest to two means
            gap = (np.abs(total - 2.0) / (self.tol[a] + self.tol[touching])).max(axis=1)
            partners = [touching[i] for i in np.argsort(gap, kind="stable")]
            done = False
            for b in partners[:6]:
                if self._recombine_pair(a, b, rng, trees):
                    done = True
                    break
            if not done and three:
                # no pair can be re-split: a third territory next to the pair takes up the excess
                for b in partners[:3]:
                    if clock.now() > deadline:
                        break
                    lab = self.labels
                    pair = (lab[self.edge_source] == a) | (lab[self.edge_source] == b)
                    third = np.unique(lab[self.edge_target[pair]])
                    third = [int(c) for c in third if c not in (a, b) and not self.frozen[c]]
                    if not third:
                        continue
                    total = self.sums[a] + self.sums[b] + self.sums[third]
                    gap3 = (np.abs(total - 3.0) / (self.tol[a] + self.tol[b] + self.tol[third])).max(axis=1)
                    c = third[int(np.argmin(gap3))]
                    if self._recombine_three(a, b, c, rng, trees):
                        break
            excess = self.territory_excess()

    def _recombine_pair(self, a: int, b: int, rng: np.random.Generator, trees: int) -> bool:
        members = np.flatnonzero((self.labels == a) | (self.labels == b))
        size = len(members)
        if size < 2:
            return False
        local = np.full(self.n, -1, dtype=np.int64)
        local[members] = np.arange(size)
        inside = (local[self.edge_source] >= 0) & (local[self.edge_target] >= 0)
        src, dst = local[self.edge_source[inside]], local[self.edge_target[inside]]
        upper = src < dst
        src, dst = src[upper], dst[upper]
        pinned_a = np.flatnonzero(~self.movable[members] & (self.labels[members] == a))
        pinned_b = np.flatnonzero(~self.movable[members] & (self.labels[members] == b))
        area = self.area[members]
        columns = np.column_stack(
            [self.values[members], area, area * self.x[members], area * self.y[members], self.second_moment[members]]
        )
        m = self.values.shape[1]
        total = columns.sum(axis=0)
        current_worst = max(self.territory_excess()[a], self.territory_excess()[b])
        # the side cut off below an edge may hold units that widen its band: take the wider of the two
        tol_a = tol_b = np.maximum(self.tol[a], self.tol[b])
        best_score, best_side = None, None
        for _ in range(trees):
            weight = rng.random(len(src)) + 0.01
            tree = minimum_spanning_tree(sparse.coo_matrix((weight, (src, dst)), shape=(size, size)))
            order, parent = breadth_first_order(tree, 0, directed=False, return_predecessors=True)
            if len(order) < size:
                return False
            depth = np.zeros(size, dtype=np.int64)
            for v in order[1:]:
                depth[v] = depth[parent[v]] + 1
            sub = columns.copy()
            for level in range(int(depth.max()), 0, -1):
                nodes = np.flatnonzero(depth == level)
                np.add.at(sub, parent[nodes], sub[nodes])
            part_a = sub[:, :m]
            part_b = total[:m] - part_a
            worst = np.maximum(
                (np.abs(part_a - 1.0) / tol_a).max(axis=1),
                (np.abs(part_b - 1.0) / tol_b).max(axis=1),
            )
            worst[0] = np.inf  # the root has no edge above it
            inertia = self._compact_inertia(sub[:, m:]) + self._compact_inertia(total[m:] - sub[:, m:])
            score = np.where(worst <= self.settings.margin, inertia, 1e6 + worst)
            v = int(np.argmin(score))
            if best_score is None or score[v] < best_score:
                below = _subtree_mask(order, parent, v, size)
                best_score, best_side, best_worst = float(score[v]), below, float(worst[v])
        if best_side is None or best_worst >= current_worst - 1e-9:
            return False
        # the side holding a's pinned units stays a
        side_a = best_side
        if (len(pinned_a) and not side_a[pinned_a].all()) or (len(pinned_b) and side_a[pinned_b].any()):
            side_a = ~best_side
            if (len(pinned_a) and not side_a[pinned_a].all()) or (len(pinned_b) and side_a[pinned_b].any()):
                return False
        elif not len(pinned_a) and not len(pinned_b):
            # keep as many units as possible where they are
            stay = np.sum(side_a == (self.labels[members] == a))
            if stay < size / 2:
                side_a = ~best_side
        labels = self.labels.copy()
        labels[members] = np.where(side_a, a, b)
        self.set_labels(labels)
        return True

    def _recombine_three(self, a: int, b: int, c: int, rng: np.random.Generator, trees: int) -> bool:
        """Merge three territories and cut a random spanning tree of the union twice (the second cut
        in what the first leaves), so that all three parts balance; each part's band is widened by
        the unbalanceable units it holds. A move only if it lowers the three's worst excess."""
        group = (a, b, c)
        members = np.flatnonzero(np.isin(self.labels, group))
        size = len(members)
        if size < 3:
            return False
        local = np.full(self.n, -1, dtype=np.int64)
        local[members] = np.arange(size)
        inside = (local[self.edge_source] >= 0) & (local[self.edge_target] >= 0)
        src, dst = local[self.edge_source[inside]], local[self.edge_target[inside]]
        upper = src < dst
        src, dst = src[upper], dst[upper]
        area = self.area[members]
        columns = np.column_stack(
            [self.values[members], area, area * self.x[members], area * self.y[members], self.second_moment[members]]
        )
        m = self.values.shape[1]
        total = columns.sum(axis=0)
        # unbalanceable units in the union and the band they add to a part holding them
        slack_local, slack_rows = np.zeros(0, dtype=np.int64), np.zeros((0, m))
        if len(self.slack_units):
            keep = local[self.slack_units] >= 0
            slack_local, slack_rows = local[self.slack_units[keep]], self.unit_slack[keep]
        excess_now = self.territory_excess()
        current_worst = max(excess_now[a], excess_now[b], excess_now[c])
        margin = self.settings.margin

        def band(holds: np.ndarray) -> np.ndarray:  # holds: rows × slack units → rows × m
            if not len(slack_local):
                return np.broadcast_to(self.tolerances, (holds.shape[0], m))
            return self.tolerances + (holds[:, :, None] * slack_rows[None, :, :]).max(axis=1)

        best_score, best_parts, best_worst = None, None, np.inf
        for _ in range(trees):
            weight = rng.random(len(src)) + 0.01
            tree = minimum_spanning_tree(sparse.coo_matrix((weight, (src, dst)), shape=(size, size)))
            order, parent = breadth_first_order(tree, 0, directed=False, return_predecessors=True)
            if len(order) < size:
                return False
            depth = np.zeros(size, dtype=np.int64)
            for v in order[1:]:
                depth[v] = depth[parent[v]] + 1
            sub = columns.copy()
            for level in range(int(depth.max()), 0, -1):
                nodes = np.flatnonzero(depth == level)
                np.add.at(sub, parent[nodes], sub[nodes])
            # holds[v, s]: unbalanceable unit s is below v in the tree
            holds = np.zeros((size, len(slack_local)), dtype=bool)
            for i, s in enumerate(slack_local.tolist()):
                node = s
                while node >= 0:
                    holds[node, i] = True
                    node = parent[node]
            first = (np.abs(sub[:, :m] - 1.0) / band(holds)).max(axis=1)
            first[0] = np.inf
            for v in np.argsort(first, kind="stable")[:4].tolist():
                if not np.isfinite(first[v]):
                    break
                below_v = _subtree_mask(order, parent, v, size)
                ancestors = np.zeros(size, dtype=bool)
                node = parent[v]
                while node >= 0:
                    ancestors[node] = True
                    node = parent[node]
                sub2 = sub - np.outer(ancestors, sub[v])
                holds2 = holds & ~(ancestors[:, None] & holds[v][None, :])
                rest_holds = (~holds[v])[None, :] & ~holds2
                part2 = (np.abs(sub2[:, :m] - 1.0) / band(holds2)).max(axis=1)
                part3_values = total[:m] - sub[v, :m] - sub2[:, :m]
                part3 = (np.abs(part3_values - 1.0) / band(rest_holds)).max(axis=1)
                worst = np.maximum(np.maximum(part2, part3), first[v])
                worst[below_v] = np.inf
                worst[0] = np.inf
                inertia = (
                    self._compact_inertia(sub[v, m:])
                    + self._compact_inertia(sub2[:, m:])
                    + self._compact_inertia(total[m:] - sub[v, m:] - sub2[:, m:])
                )
                score = np.where(worst <= margin, inertia, 1e6 + worst)
                w = int(np.argmin(score))
                if not np.isfinite(worst[w]):
                    continue
                if best_score is None or score[w] < best_score:
                    part = np.full(size, 2, dtype=np.int64)
                    part[_subtree_mask(order, parent, w, size) & ~below_v] = 1
                    part[below_v] = 0
                    best_score, best_parts, best_worst = float(score[w]), part, float(worst[w])
        if best_parts is None or best_worst >= current_worst - 1e-9:
            return False
        # name the parts after the territories they overlap most, keeping pinned units in theirs
        now = self.labels[members]
        pinned = ~self.movable[members]
        choice, choice_stay = None, -1
        for perm in ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)):
            names = np.asarray([group[i] for i in perm])[best_parts]
            if (names[pinned] != now[pinned]).any():
                continue
            stay = int((names == now).sum())
            if stay > choice_stay:
                choice, choice_stay = names, stay
        if choice is None:
            return False
        labels = self.labels.copy()
        labels[members] = choice
        self.set_labels(labels)
        return True

    # ----- re-splitting two or three territories along straight lines (design's last phase) ----
    def improve_by_resplitting(self, deadline: float, rng: np.random.Generator, attempts: int) -> int:
        """Large-neighbourhood search on the mean Polsby-Popper once the plan is balanced: merge two
        neighbouring territories (every other attempt three), cut the union by straight lines (24
        directions; for three, a second cut through what the first leaves) where every part balances and
        the parts are roundest, let the descent polish the new borders, and keep the result only if every
        territory stays in the band and the mean rises. Single moves cannot carry a border across a
        territory, nor untangle a territory wrapped round another; this can. Returns the kept re-splits."""
        kept = 0
        for attempt in range(attempts):
            if clock.now() > deadline:
                break
            lab = self.labels
            a_, b_ = lab[self.edge_source], lab[self.edge_target]
            cross = (a_ < b_) & ~self.frozen[a_] & ~self.frozen[b_]
            pairs = np.unique(a_[cross] * self.k + b_[cross])
            if len(pairs) == 0:
                break
            pp = self.polsby_popper()
            first, second = pairs // self.k, pairs % self.k
            weight = 2.0 - pp[first] - pp[second]  # the less round pairs more often
            pick = int(rng.choice(len(pairs), p=weight / weight.sum()))
            group = [int(first[pick]), int(second[pick])]
            if attempt % 2:
                pair = (lab[self.edge_source] == group[0]) | (lab[self.edge_source] == group[1])
                third = np.unique(lab[self.edge_target[pair]])
                third = [int(c) for c in third if c not in group and not self.frozen[c]]
                if third:
                    group.append(int(rng.choice(third)))
            before, before_pp = self.labels.copy(), self.mean_polsby_popper()
            if not self._resplit_straight(group):
                continue
            self.descend(deadline)
            if self.max_excess() <= 1.0 + 1e-9 and self.mean_polsby_popper() > before_pp + 1e-6:
                kept += 1
            else:
                self.set_labels(before)
        return kept

    def _resplit_straight(self, group: list[int], directions: int = 24) -> bool:
        members = np.flatnonzero(np.isin(self.labels, group))
        size = len(members)
        if size < len(group) or not self.movable[members].all():
            return False
        local = np.full(self.n, -1, dtype=np.int64)
        local[members] = np.arange(size)
        inside = (local[self.edge_source] >= 0) & (local[self.edge_target] >= 0)
        edges = (local[self.edge_source[inside]], local[self.edge_target[inside]], self.edge_length[inside])
        tol = self.tol[group].max(axis=0) * self.settings.margin
        units = (self.x[members], self.y[members], self.values[members], self.area[members], self.perimeter[members])
        everything = np.ones(size, dtype=bool)
        if len(group) == 2:
            found = self._straight_cuts(units, edges, everything, tol, parts=1, directions=directions, top=1)
            if not found:
                return False
            parts = [found[0][1], ~found[0][1]]
        else:
            best = None
            for score_one, one in self._straight_cuts(units, edges, everything, tol, parts=2, directions=directions):
                rest = self._straight_cuts(units, edges, ~one, tol, parts=1, directions=directions, top=1)
                if rest and (best is None or score_one + rest[0][0] > best[0]):
                    best = (score_one + rest[0][0], [one, rest[0][1], ~one & ~rest[0][1]])
            if best is None:
                return False
            parts = best[1]
        # each territory keeps the part holding most of its units
        current = self.labels[members]
        overlap = np.asarray([[np.sum(part & (current == t)) for t in group] for part in parts])
        rows, cols = linear_sum_assignment(-overlap)
        labels = self.labels.copy()
        for r, c in zip(rows.tolist(), cols.tolist(), strict=False):
            labels[members[parts[r]]] = group[c]
        self.set_labels(labels)
        return True

    def _straight_cuts(self, units, edges, mask, tol, parts: int, directions: int, top: int = 3):
        """Straight cuts of the units under `mask` into a part of one mean and the rest of `parts`
        means, both within the band (the rest `parts` times it), each connected; best `top` by
        the part's Polsby-Popper (plus the rest's when it is one territory too), best first."""
        x, y, values, area, perimeter = (column[mask] for column in units)
        index = np.full(len(mask), -1, dtype=np.int64)
        index[mask] = np.arange(int(mask.sum()))
        src, dst, length = edges
        keep = mask[src] & mask[dst]
        src, dst, length = index[src[keep]], index[dst[keep]], length[keep]
        size = len(x)
        if size < 2:
            return []
        total = values.sum(axis=0)
        total_area = area.sum()
        candidates = []
        for angle in np.arange(directions) * math.pi / directions:
            order = np.argsort(x * math.cos(angle) + y * math.sin(angle), kind="stable")
            position = np.empty(size, dtype=np.int64)
            position[order] = np.arange(size)
            # boundary each unit shares with units before / after it in this order
            earlier = np.bincount(src, length * (position[dst] < position[src]), minlength=size)
            later = np.bincount(src, length * (position[dst] > position[src]), minlength=size)
            head = np.cumsum(values[order], axis=0)[:-1]  # the first i + 1 units
            head_area = np.cumsum(area[order])[:-1]
            head_perimeter = np.cumsum((perimeter - 2.0 * earlier)[order])[:-1]
            tail_perimeter = np.cumsum(((perimeter - 2.0 * later)[order])[::-1])[::-1][1:]
            head_pp = 4.0 * math.pi * head_area / head_perimeter**2
            tail_pp = 4.0 * math.pi * (total_area - head_area) / tail_perimeter**2
            for one, rest, one_pp, rest_pp, one_is_head in (
                (head, total - head, head_pp, tail_pp, True),
                (total - head, head, tail_pp, head_pp, False),
            ):
                worst = np.maximum(
                    (np.abs(one - 1.0) / tol).max(axis=1), (np.abs(rest - parts) / (parts * tol)).max(axis=1)
                )
                feasible = np.flatnonzero(worst <= 1.0)
                if len(feasible) == 0:
                    continue
                score = one_pp + rest_pp if parts == 1 else one_pp
                for i in feasible[np.argsort(-score[feasible], kind="stable")][:3].tolist():
                    candidates.append((float(score[i]), i, position, one_is_head, float(angle)))
                if parts == 1:
                    break  # one part and the rest are alike: the head is enough
        # connectivity only for the best cuts, in order, until `top` are found (usually the first is), one per cut
        # direction so that the cuts differ
        candidates.sort(key=lambda item: -item[0])
        found, directions_found = [], set()
        for score_, i, position, one_is_head, angle in candidates:
            direction = (angle, one_is_head)
            if direction in directions_found:
                continue
            side = (position <= i) if one_is_head else (position > i)
            if self._connected(side, src, dst) and self._connected(~side, src, dst):
                whole = np.zeros(len(mask), dtype=bool)
                whole[np.flatnonzero(mask)[side]] = True
                found.append((score_, whole))
                directions_found.add(direction)
                if len(found) == top:
                    break
        return found

    @staticmethod
    def _connected(mask: np.ndarray, src: np.ndarray, dst: np.ndarray) -> bool:
        nodes = np.flatnonzero(mask)
        keep = mask[src] & mask[dst]
        index = np.full(len(mask), -1, dtype=np.int64)
        index[nodes] = np.arange(len(nodes))
        graph = sparse.coo_matrix(
            (np.ones(int(keep.sum())), (index[src[keep]], index[dst[keep]])), shape=(len(nodes), len(nodes))
        )
        return connected_components(graph, directed=False)[0] == 1

    def _compact_inertia(self, moments: np.ndarray) -> np.ndarray:
        area = np.maximum(moments[..., 0], 1e-12)
        inertia = np.maximum(moments[..., 3] - (moments[..., 1] ** 2 + moments[..., 2] ** 2) / area, 0.0)
        return 2.0 * math.pi * inertia / area**2


def _subtree_mask(order: np.ndarray, parent: np.ndarray, v: int, size: int) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    mask[v] = True
    for node in order.tolist():
        p = parent[node]
        if p >= 0 and mask[p]:
            mask[node] = True
    return mask


def _lookup(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    position = np.searchsorted(keys, wanted)
    position = np.minimum(position, len(keys) - 1)
    found = keys[position] == wanted
    return np.where(found, values[position], 0.0)


# ----- start partitions ------------------------------------------------------------------------


def kmeans_plus_plus(x: np.ndarray, y: np.ndarray, weight: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii 2007) on centroids, weighted by load."""
    n = len(x)
    weight = weight + weight.mean() * 0.05 + 1e-12
    first = int(rng.choice(n, p=weight / weight.sum()))
    chosen = [first]
    d2 = (x - x[first]) ** 2 + (y - y[first]) ** 2
    for _ in range(1, k):
        score = d2 * weight
        total = score.sum()
        if total <= 0:
            candidates = np.setdiff1d(np.arange(n), chosen)
            nxt = int(candidates[0])
        else:
            nxt = int(rng.choice(n, p=score / total))
        chosen.append(nxt)
        d2 = np.minimum(d2, (x - x[nxt]) ** 2 + (y - y[nxt]) ** 2)
    return np.asarray(chosen)


def power_partition(
    x: np.ndarray,
    y: np.ndarray,
    area: np.ndarray,
    load: np.ndarray,
    free_units: np.ndarray,
    free_labels: np.ndarray,
    centres: np.ndarray,  # len(free_labels) × 2
    fixed_centres: bool,
    forced: dict[int, int],
) -> np.ndarray:
    """Balanced assignment by a power diagram: unit → argmin(d² − w_t), with w_t raised for
    under-loaded territories (dual ascent on the capacity constraints) and centres moved to their
    territory's area centroid (Lloyd steps). Gives compact, nearly balanced, not always connected
    territories. Hess et al. 1965; Aurenhammer, Hoffmann & Aronov 1998."""
    units = np.flatnonzero(free_units)
    px, py, pa, pl = x[units], y[units], area[units], load[units]
    kk = len(free_labels)
    target = pl.sum() / kk
    scale = pa.sum() / kk  # a territory's area: the natural size of d²
    centres = centres.astype(float).copy()
    shift = np.zeros(kk)
    assignment = np.zeros(len(units), dtype=np.int64)
    forced_local = {int(np.searchsorted(units, u)): t for u, t in forced.items() if free_units[u]}
    outer = 1 if fixed_centres else 12
    for _ in range(outer):
        rate = 0.6
        for _ in range(60):
            cost = (px[:, None] - centres[None, :, 0]) ** 2 + (py[:, None] - centres[None, :, 1]) ** 2 - shift[None, :]
            assignment = np.argmin(cost, axis=1)
            for local, t in forced_local.items():
                assignment[local] = t
            loads = np.bincount(assignment, pl, minlength=kk)
            shift += rate * scale * (target - loads) / target
            rate *= 0.96
        if not fixed_centres:
            mass = np.bincount(assignment, pa, minlength=kk)
            filled = mass > 0
            centres[filled, 0] = np.bincount(assignment, pa * px, minlength=kk)[filled] / mass[filled]
            centres[filled, 1] = np.bincount(assignment, pa * py, minlength=kk)[filled] / mass[filled]
    labels = np.full(len(x), -1, dtype=np.int64)
    labels[units] = free_labels[assignment]
    return labels


def bisection_partition(
    x: np.ndarray,
    y: np.ndarray,
    area: np.ndarray,
    load: np.ndarray,
    free_units: np.ndarray,
    free_labels: np.ndarray,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Balanced assignment by recursive bisection: the units are cut across their principal axis where
    the load on one side is k₁/k of the whole (k₁ = ⌊k/2⌋), and each side is cut again with its share of
    the territories. Every territory ends within about one unit's load of the mean, however unevenly the
    load is spread (a power diagram needs centres where the load is, and its weights adapt slowly when
    densities differ by orders of magnitude, as between a metropolis and the plains). Where the cut falls
    in a stretch of units without load, it goes through the middle of their area. Berger &
    Bokhari 1987 (recursive coordinate bisection). With `rng`, each cut is turned by up to ±30° and the larger
    share of an odd count goes to a random side, so that other starts differ."""
    labels = np.full(len(x), -1, dtype=np.int64)
    area_share = area / max(float(area[free_units].sum()), 1e-12)
    stack = [(np.flatnonzero(free_units), np.asarray(free_labels, dtype=np.int64))]
    while stack:
        members, names = stack.pop()
        if len(names) == 1 or len(members) <= 1:
            labels[members] = names[0] if len(names) else -1
            continue
        if len(members) < len(names):  # fewer units than territories: one each, the rest stay empty
            labels[members] = names[: len(members)]
            continue
        weight = load[members] + 1e-3 * area_share[members] + 1e-12
        px, py = x[members], y[members]
        cx, cy = np.average(px, weights=weight), np.average(py, weights=weight)
        covariance = np.cov(np.vstack([px - cx, py - cy]), aweights=weight)
        _, vectors = np.linalg.eigh(np.atleast_2d(covariance))
        axis = vectors[:, -1]  # the direction of largest spread
        first = len(names) // 2
        if rng is not None:
            angle = rng.uniform(-np.pi / 6.0, np.pi / 6.0)
            axis = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ axis
            if len(names) % 2 and rng.random() < 0.5:
                first += 1
        order = np.argsort(px * axis[0] + py * axis[1], kind="stable")
        cumulative = np.cumsum(load[members][order])
        target = cumulative[-1] * first / len(names)
        # the cut after position i: the one whose left load is closest to the target, at least one unit a side
        gap = np.abs(cumulative[:-1] - target)
        best = float(gap.min())
        ties = np.flatnonzero(gap <= best + 1e-12 * max(cumulative[-1], 1.0))
        if len(ties) > 1:  # a stretch without load: cut through the middle of its area
            spread = np.cumsum(area_share[members][order])[ties]
            cut = int(ties[np.argmin(np.abs(spread - (spread[0] + spread[-1]) / 2.0))])
        else:
            cut = int(ties[0])
        cut = min(max(cut, first - 1), len(members) - (len(names) - first) - 1)
        stack.append((members[order[: cut + 1]], names[:first]))
        stack.append((members[order[cut + 1 :]], names[first:]))
    return labels


def make_contiguous(
    labels: np.ndarray,
    geo: Geography,
    load: np.ndarray,
    k: int,
    fixed: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    closed: np.ndarray | None = None,  # k bool: territories that take no units (oversize, locked)
) -> np.ndarray:
    """Keep each territory's heaviest connected piece; hand the other pieces, unit by unit, to the
    neighbouring open territory they share most boundary with; give empty territories a unit."""
    closed = np.zeros(k, dtype=bool) if closed is None else closed
    labels = labels.copy()
    n = len(labels)
    source = np.repeat(np.arange(n), np.diff(geo.indptr))
    target = geo.indices
    same = (labels[source] == labels[target]) & (labels[source] >= 0)
    graph = sparse.coo_matrix((np.ones(int(same.sum())), (source[same], target[same])), shape=(n, n))
    _, piece = connected_components(graph, directed=False)
    piece_load = np.bincount(piece, load + 1e-9, minlength=piece.max() + 1)
    keep = np.zeros(piece.max() + 1, dtype=bool)
    best: dict[int, tuple[float, int]] = {}
    for p in np.unique(piece[labels >= 0]):
        members_label = int(labels[np.flatnonzero(piece == p)[0]])
        if members_label not in best or piece_load[p] > best[members_label][0]:
            best[members_label] = (piece_load[p], int(p))
    for _, p in best.values():
        keep[p] = True
    drop = (~keep[piece]) & (~fixed) & (labels >= 0)
    labels[drop] = -1
    shared = geo.shared + 1e-6  # island links (length 0) still count a little
    open_only = True
    while (labels < 0).any():
        waiting = labels[source] < 0
        offer = waiting & (labels[target] >= 0)
        if open_only:
            offer[offer] &= ~closed[labels[target[offer]]]
        if not offer.any():
            if open_only:
                # what is left is walled in by closed territories (a group held together because geography
                # leaves it no balanced territory): it joins one of them rather than being cut off
                open_only = False
                continue
            break
        keys = source[offer] * k + labels[target[offer]]
        unique_keys, inverse = np.unique(keys, return_inverse=True)
        strength = np.bincount(inverse, shared[offer])
        units = unique_keys // k
        order = np.lexsort((-strength, units))
        units_sorted = units[order]
        first = np.r_[True, units_sorted[1:] != units_sorted[:-1]]
        chosen = order[first]
        labels[units[chosen]] = unique_keys[chosen] % k
    stranded = np.flatnonzero(labels < 0)
    if len(stranded):  # no neighbour at all: the nearest labelled unit's territory
        placed = np.flatnonzero(labels >= 0)
        for u in stranded.tolist():
            labels[u] = labels[placed[np.argmin((x[placed] - x[u]) ** 2 + (y[placed] - y[u]) ** 2)]]
    counts = np.bincount(labels[labels >= 0], minlength=k)
    for t in np.flatnonzero(counts == 0):
        # an empty territory takes a unit from the most loaded one, at the edge of it
        loads = np.bincount(labels, load, minlength=k)
        donor = int(np.argmax(np.where(counts > 1, loads, -np.inf)))
        members = np.flatnonzero((labels == donor) & ~fixed)
        neighbours = geo.neighbours()
        for u in members[np.argsort(-((x[members] - x[members].mean()) ** 2 + (y[members] - y[members].mean()) ** 2))]:
            inside = [v for v in neighbours[u] if labels[v] == donor]
            if len(inside) <= 1:
                labels[u] = t
                break
        else:
            labels[members[0]] = t
        counts = np.bincount(labels, minlength=k)
    return labels
