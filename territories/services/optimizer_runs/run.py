"""The run itself: refuse what cannot work, share the time limit out, call the optimiser, write the new scenario."""

from __future__ import annotations

import os
import time

from django.core.exceptions import ValidationError

from accounts.models import AccountAssignment
from territories.models import Scenario, Territory, TerritoryUnit
from territories.optimizer import OptimizerInputError, UnitSet, design, realign

from .alternatives import alternatives_keep
from .plan import plan_scenario
from .scope import DEFAULT_BALANCE, DEFAULT_TIME_LIMIT, MEASURES, MODES, Progress, leaf_territories, optimizer_scope


def optimizer_run_check(
    *, scenario: Scenario, k: int | None, balance: dict, mode: str, parent: Territory | None = None
) -> None:
    """Refuse, before queueing, a run that cannot work: no leaves, unknown measure, k above the number of units."""
    leaves = leaf_territories(scenario=scenario, parent=parent)
    if not leaves:
        raise ValidationError(f"“{scenario.name}” has no leaf territories to optimise.")
    unit_rows = TerritoryUnit.objects.filter(scenario=scenario, territory_id__in=list(leaves))
    units = unit_rows.count()
    if units:
        leaves = set(unit_rows.values_list("territory_id", flat=True).distinct())
    else:
        units = (
            AccountAssignment.objects.filter(
                scenario=scenario, territory_id__in=list(leaves), valid_to=None, account__location__isnull=False
            )
            .values("account_id")
            .distinct()
            .count()
        )
    optimizer_params_check(balance=balance, k=k, mode=mode, units=units, leaves=len(leaves))


def optimizer_params_check(*, balance: dict, k: int | None, mode: str, units: int, leaves: int) -> None:
    """Refuse parameters the optimiser cannot use, with a message for the person who asked."""
    if mode not in MODES:
        raise ValidationError(f"Mode must be design or realign, not “{mode}”.")
    if not balance:
        raise ValidationError("Give at least one measure to balance.")
    for name, target in balance.items():
        if name not in MEASURES:
            raise ValidationError(f"Unknown measure “{name}”; use one of {', '.join(MEASURES)}.")
        weight, tolerance = target
        if weight < 0 or not 0 < tolerance < 1:
            raise ValidationError(f"{name}: the weight must be ≥ 0 and the tolerance between 0 and 1.")
    if mode == "realign" and k not in (None, leaves):
        raise ValidationError(f"Realignment keeps the {leaves} territories; leave k empty or set it to {leaves}.")
    if k is not None and not 1 <= k <= units:
        raise ValidationError(f"k = {k} must be between 1 and the number of units ({units}).")


def optimizer_search_seconds(*, time_limit: float, elapsed: float, units: int, busy: float = 1.0) -> float:
    """Seconds the optimiser may be given so that the whole run ends within `time_limit` (at least 5).

    What follows its search scales with the units and with how busy the machine is (`busy`: runnable processes per
    core, 1 to 3): the optimiser measuring the plan beyond the 15% of its limit it keeps for that, the boundaries,
    the clone and the report. On the 3,142-county demo that was 6-7 s on an idle 2-core machine and 12-16 s at a load
    average of 4.5, hence a reserve of (1.5 s + 1.5 s per 1,000 units) × busy.
    """
    reserve = (1.5 + 1.5 * units / 1000) * min(max(busy, 1.0), 3.0)
    return round(max(5.0, time_limit - elapsed - reserve), 1)


# The last units this process optimised, with their unit graph built (the optimiser's UnitSet.geography: 10-20 s
# for the 3,142 counties). A worker that optimises the same units again reuses it, and its search gets that time.
_UNIT_SETS: dict[tuple, UnitSet] = {}


def _unit_set(scope) -> tuple[UnitSet, bool]:
    """The scope's units for the optimiser, and whether their unit graph is already built."""
    known = _UNIT_SETS.get((scope.kind, tuple(scope.unit_ids), scope.geometry_digest))
    if known is not None:
        return known.with_measures(scope.measures), True
    return UnitSet(scope.unit_ids, scope.geometries, scope.measures), False


def _unit_set_keep(scope, units: UnitSet) -> None:
    _UNIT_SETS.clear()
    _UNIT_SETS[(scope.kind, tuple(scope.unit_ids), scope.geometry_digest)] = units


def _busy() -> float:
    """Runnable processes per core over the last minute (1 when the platform cannot say)."""
    try:
        return os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:
        return 1.0


def optimizer_run(
    *,
    scenario: Scenario,
    k: int | None = None,
    balance: dict | None = None,
    mode: str = "design",
    compact: bool = False,
    relocate: bool = True,
    seed: int = 0,
    time_limit: float = DEFAULT_TIME_LIMIT,
    parent: Territory | None = None,
    user=None,
    progress: Progress = None,
    name: str | None = None,
) -> Scenario:
    """Design (or realign) the leaf territories of `scenario` and return a new planning scenario with the plan.

    `time_limit` is for the whole run; the optimiser searches for what is left after the read, less a reserve."""
    started = time.monotonic()
    phases: dict[str, float] = {}
    balance = {
        key: (float(weight), float(tolerance)) for key, (weight, tolerance) in (balance or DEFAULT_BALANCE).items()
    }

    def notify(pct: float, message: str) -> None:
        if progress is not None:
            progress(pct, message)

    def phase_end(name: str, since: float) -> float:
        now = time.monotonic()
        phases[name] = round(now - since, 3)
        return now

    notify(1, "reading units and measures")
    scope = optimizer_scope(scenario=scenario, parent=parent)
    leaf_ids = sorted(scope.leaves)
    optimizer_params_check(balance=balance, k=k, mode=mode, units=len(scope.unit_ids), leaves=len(leaf_ids))
    codes = {pk: territory.code for pk, territory in scope.leaves.items()}
    current = {u: codes[t] for u, t in zip(scope.unit_ids, scope.unit_territory, strict=True)}
    locked = {
        u: codes[t] for u, t in zip(scope.unit_ids, scope.unit_territory, strict=True) if t in scope.locked_leaf_ids
    }
    units, graph_reused = _unit_set(scope)
    mark = phase_end("read", started)
    search_seconds = optimizer_search_seconds(
        time_limit=time_limit, elapsed=mark - started, units=len(units), busy=_busy()
    )

    def optimiser_progress(pct: float, message: str) -> None:
        notify(5 + 0.85 * pct, f"optimiser: {message}")  # 5..90 % of the job

    try:
        if mode == "realign":
            plan = realign(
                units,
                current,
                balance,
                seed=seed,
                time_limit=search_seconds,
                move_weight="annual_revenue",
                locked=locked or None,
                compact=compact,
                relocate=relocate,
                progress=optimiser_progress,
            )
        else:
            plan = design(
                units,
                k or len(leaf_ids),
                balance,
                seed=seed,
                time_limit=search_seconds,
                locked=locked or None,
                progress=optimiser_progress,
            )
    except OptimizerInputError as exc:
        raise ValidationError(str(exc)) from exc
    _unit_set_keep(scope, units)
    mark = phase_end("optimiser", mark)
    context = {
        "mode": mode,
        "compact": compact if mode == "realign" else None,
        "relocate": relocate if mode == "realign" else None,
        "source_scenario": scenario.pk,
        "unit_kind": scope.kind,
        "parent": parent.code if parent is not None else None,
        "balance": {m: list(v) for m, v in balance.items()},
        "time_limit_s": time_limit,
        "search_time_limit_s": search_seconds,
        "unit_graph_reused": graph_reused,
        "named_accounts_not_counted": scope.named_accounts,
        "named_potential_not_counted": round(scope.named_potential, 2),
    }
    result = plan_scenario(
        scenario=scenario,
        scope=scope,
        assignment=plan.assignment,
        report=dict(plan.report, **context),
        user=user,
        name=name,
        notify=notify,
        phases=phases,
        phase_start=mark,
    )
    if mode == "realign":
        alternatives_keep(run=result, scope=scope, plans=plan.tradeoff, context=context)
    phases["total"] = round(time.monotonic() - started, 3)
    result.optimizer_report["phases_s"] = phases
    result.optimizer_report["total_runtime_s"] = phases["total"]
    Scenario.objects.filter(pk=result.pk).update(optimizer_report=result.optimizer_report)
    notify(100, "done")
    return result
