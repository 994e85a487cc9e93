"""Territory design and realignment: balanced, contiguous, compact territories (pure Python).

No Django here: the package imports and runs without settings, so the management command, Celery
tasks and the benchmark all call the same functions.
"""

from .api import Plan, candidates, design, realign
from .balance import BalanceTarget
from .engine import Weights
from .errors import OptimizerInputError
from .units import UnitSet

__all__ = ["BalanceTarget", "OptimizerInputError", "Plan", "UnitSet", "Weights", "candidates", "design", "realign"]
