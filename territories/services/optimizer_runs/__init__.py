"""Optimiser runs: read a scenario's units and measures from PostGIS, design or realign its leaf territories with
the pure-Python optimiser, and write the plan into a new planning scenario (units, boundaries, accounts, report).

The whole run keeps to one time limit (what the Optimise panel offers as "Seconds"): the optimiser gets what is left
after the read, less a reserve for the boundaries and the write. The read is one SQL statement (units with their
geometry and the sums of the accounts inside them); the optimiser runs outside any transaction; the new boundaries
are dissolved before the write (coverage union of the units, in GEOS); the write is one transaction of set-based
statements: clone the source, place the units, replace the moved accounts' assignments, set the boundaries.
"""

from .alternatives import optimizer_alternative_adopt, optimizer_alternative_adopt_check, tradeoff_rows
from .run import optimizer_params_check, optimizer_run, optimizer_run_check, optimizer_search_seconds
from .scope import DEFAULT_BALANCE, DEFAULT_TIME_LIMIT, MEASURES, MODES, OptimizerScope, optimizer_scope

__all__ = [
    "DEFAULT_BALANCE",
    "DEFAULT_TIME_LIMIT",
    "MEASURES",
    "MODES",
    "OptimizerScope",
    "optimizer_alternative_adopt",
    "optimizer_alternative_adopt_check",
    "optimizer_params_check",
    "optimizer_run",
    "optimizer_run_check",
    "optimizer_scope",
    "optimizer_search_seconds",
    "tradeoff_rows",
]
