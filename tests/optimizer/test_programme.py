"""The integer programme wrapper around HiGHS: right answers, None when infeasible, nothing printed."""

import subprocess
import sys

import numpy as np
from scipy import sparse

from territories.optimizer.programme import solve_programme

from .conftest import ROOT


def _knapsack(capacity: float):
    values = np.array([6.0, 5.0, 4.0, 3.0])
    weights = np.array([[5.0, 4.0, 3.0, 2.0]])
    return {
        "cost": -values,
        "matrix": sparse.csr_matrix(weights),
        "row_lower": np.array([-np.inf]),
        "row_upper": np.array([capacity]),
        "integer": np.ones(4, dtype=bool),
        "upper": np.ones(4),
        "node_limit": 100,
        "gap": 0.0,
        "time_limit": 10.0,
    }


def test_the_best_integer_choice_is_returned():
    solution = solve_programme(**_knapsack(capacity=9.0))
    # items 2, 3 and 4 (weight 9, value 12) beat 1 and 2 (weight 9, value 11)
    assert np.allclose(solution, [0, 1, 1, 1])


def test_an_infeasible_programme_gives_none():
    programme = _knapsack(capacity=9.0)
    programme["row_lower"] = np.array([20.0])  # more weight than all four items together
    assert solve_programme(**programme) is None


def test_solving_prints_nothing_to_standard_output():
    # HiGHS prints a banner when the first solver of a process is made; in the command's output it would
    # corrupt what users pipe on
    script = (
        "import numpy as np; from scipy import sparse;"
        "from territories.optimizer.programme import solve_programme;"
        "solve_programme(np.array([-1.0]), sparse.csr_matrix(np.ones((1, 1))), np.array([0.0]), np.array([1.0]),"
        " integer=np.array([True]), upper=np.ones(1), node_limit=1, gap=0.0, time_limit=5.0); print('solved')"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout == "solved\n"
