"""Balance targets: which measures to balance, how much each counts and how far it may stray."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .errors import OptimizerInputError


@dataclass(frozen=True)
class BalanceTarget:
    """One measure to balance: `weight` scales its penalty, `tolerance` is the allowed relative
    deviation of a territory's sum from the mean (0.05 = within 5%)."""

    measure: str
    weight: float = 1.0
    tolerance: float = 0.05


def normalise_balance(balance, available: Sequence[str]) -> list[BalanceTarget]:
    """Accept `{"measure": (weight, tolerance)}`, a list of BalanceTarget, or a list of names."""
    if balance is None or len(balance) == 0:
        raise OptimizerInputError("at least one measure to balance is required")
    targets: list[BalanceTarget] = []
    if isinstance(balance, Mapping):
        for name, spec in balance.items():
            if isinstance(spec, (int, float)):
                targets.append(BalanceTarget(str(name), 1.0, float(spec)))
            else:
                weight, tolerance = spec
                targets.append(BalanceTarget(str(name), float(weight), float(tolerance)))
    else:
        for item in balance:
            if isinstance(item, BalanceTarget):
                targets.append(item)
            elif isinstance(item, str):
                targets.append(BalanceTarget(item))
            else:
                raise OptimizerInputError(f"cannot read balance target {item!r}")
    for target in targets:
        if target.measure not in available:
            raise OptimizerInputError(f"no measure named {target.measure!r} (have: {', '.join(available) or 'none'})")
        if not target.tolerance > 0:
            raise OptimizerInputError(f"tolerance for {target.measure!r} must be positive")
        if target.weight < 0:
            raise OptimizerInputError(f"weight for {target.measure!r} must not be negative")
    return targets
