"""Small integer programmes solved by HiGHS (highspy), bounded by work rather than by the clock.

scipy's `milp` offers only a clock limit and a node limit, and its HiGHS (1.12) spends up to a minute
at the root of some balancing programmes before the first node, so the clock was the only bound that
held, and a clock limit makes the plan depend on the machine's load. HiGHS 1.16 through highspy
finishes the same roots in about a second, so a node limit alone bounds the work and one seed gives one
plan. The clock limit stays as a safety net far above what a call needs.
"""

from __future__ import annotations

import os
import sys

import highspy
import numpy as np
from scipy import sparse

from . import clock

# A fixed thread count: HiGHS's integer search is deterministic for a given number of threads, and
# its thread pool is sized once per process.
THREADS = 2

_banner_printed = False


def _new_highs():
    """A HiGHS instance; the first in a process prints a banner to standard output, which would
    land in the command's output and the workers' logs, so that one is made with it closed."""
    global _banner_printed
    if _banner_printed:
        return highspy.Highs()
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highs = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    _banner_printed = True
    return highs


def solve_programme(
    cost: np.ndarray,
    matrix: sparse.spmatrix,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    *,
    integer: np.ndarray,
    upper: np.ndarray,
    node_limit: int,
    gap: float,
    time_limit: float,
) -> np.ndarray | None:
    """Minimise cost·x subject to row_lower ≤ matrix·x ≤ row_upper and 0 ≤ x ≤ upper, x integer where
    `integer` is true. Returns the best solution found within the node limit, or None if none was."""
    inf = highspy.kHighsInf
    columns = sparse.csc_matrix(matrix)
    model = highspy.HighsLp()
    model.num_col_ = len(cost)
    model.num_row_ = columns.shape[0]
    model.col_cost_ = np.asarray(cost, dtype=float)
    model.col_lower_ = np.zeros(len(cost))
    model.col_upper_ = np.where(np.isinf(upper), inf, upper).astype(float)
    model.row_lower_ = np.where(np.isinf(row_lower), -inf, row_lower).astype(float)
    model.row_upper_ = np.where(np.isinf(row_upper), inf, row_upper).astype(float)
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.start_ = columns.indptr
    model.a_matrix_.index_ = columns.indices
    model.a_matrix_.value_ = columns.data
    kinds = (highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger)
    model.integrality_ = [kinds[int(flag)] for flag in np.asarray(integer, dtype=bool)]
    highs = _new_highs()
    for option, value in (
        ("output_flag", False),
        ("threads", THREADS),
        ("random_seed", 0),
        ("mip_max_nodes", int(node_limit)),
        ("mip_rel_gap", float(gap)),
        ("time_limit", float(max(time_limit, 0.1))),
        # the sub-programme heuristics (RINS, RENS) double a root's time for a better first solution
        # that the local search after it finds as well (hex designs as round, in half the time)
        ("mip_heuristic_run_rins", False),
        ("mip_heuristic_run_rens", False),
    ):
        highs.setOptionValue(option, value)
    highs.passModel(model)
    highs.run()
    info = highs.getInfo()
    clock.spend_on_programme(columns.nnz, info.simplex_iteration_count)
    if info.primal_solution_status != highspy.SolutionStatus.kSolutionStatusFeasible:
        return None
    return np.asarray(highs.getSolution().col_value)
