"""Trade-off points of a realignment: kept with the run, listed against its plan, made a scenario when chosen.

A realignment answers with its plan (written as a scenario) and points at tighter and looser tolerances, so a
manager can trade balance against disruption. A point is kept as the units it moves away from the source's current
alignment, with its report; choosing it re-reads the source and writes the same kind of scenario the run wrote —
unless the source changed since the run, when the point's figures no longer hold."""

from __future__ import annotations

import hashlib
import time

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from territories.models import OptimizerAlternative, Scenario, Territory

from .plan import plan_scenario
from .scope import OptimizerScope, Progress, optimizer_scope


def _current_codes(scope: OptimizerScope) -> dict:
    return {unit: scope.leaves[leaf].code for unit, leaf in zip(scope.unit_ids, scope.unit_territory, strict=True)}


def source_digest(scope: OptimizerScope) -> str:
    """Of what a point's figures rest on: the units, the territory each is in, and every measure of them."""
    digest = hashlib.sha256()
    digest.update(np.asarray(scope.unit_ids, dtype=np.int64).tobytes())
    digest.update("\x1f".join(scope.leaves[leaf].code for leaf in scope.unit_territory).encode())
    for name in sorted(scope.measures):
        digest.update(name.encode())
        digest.update(np.round(np.asarray(scope.measures[name], dtype=np.float64), 6).tobytes())
    return digest.hexdigest()


def alternatives_keep(
    *, run: Scenario, scope: OptimizerScope, plans: list, context: dict
) -> list[OptimizerAlternative]:
    """Keep the realignment's trade-off `plans` (optimiser Plans) with `run`, the scenario of its plan."""
    current = _current_codes(scope)
    digest = source_digest(scope)
    rows = [
        OptimizerAlternative(
            run=run,
            tolerance_factor=float(plan.report["tolerance_factor"]),
            changes=[[unit, label] for unit, label in plan.assignment.items() if label != current[unit]],
            report=dict(plan.report, **context),
            source_digest=digest,
        )
        for plan in plans
    ]
    return OptimizerAlternative.objects.bulk_create(rows)


def tolerance_words(balance: dict, factor: float) -> str:
    """"potential ±2.5%, accounts ±5%": each balanced measure's tolerance at the point."""
    return ", ".join(f"{name} ±{100 * tolerance * factor:.3g}%" for name, (_, tolerance) in balance.items())


def tradeoff_rows(*, scenario: Scenario) -> list[dict]:
    """The run's plan and its kept points, loosest balance last, each with its figures and whether another option
    is as balanced and moves less (or is better balanced and moves no more): a dominated point is no real choice."""
    report = scenario.optimizer_report or {}
    if report.get("mode") != "realign":
        return []
    # the moved units are only read when a point is made a scenario
    alternatives = list(scenario.optimizer_alternatives.select_related("adopted_as").defer("changes"))
    if not alternatives:
        return []
    balance = report.get("balance") or {}

    def row(point_report: dict, factor: float, alternative: OptimizerAlternative | None) -> dict:
        disruption = point_report.get("disruption") or {}
        measures_moved = disruption.get("measures_moved") or {}
        revenue_share = disruption.get("revenue_moved_share", disruption.get("move_weight_moved_share", 0.0))
        return {
            "factor": factor,
            "tolerance": tolerance_words(balance, factor),
            "max_rel_dev": point_report["max_rel_dev"],
            "within_tolerance": point_report["within_tolerance"],
            "contiguous": point_report["contiguous"],
            "units_moved": disruption.get("units_moved", 0),
            "accounts_moved": disruption.get("accounts_moved", round((measures_moved.get("accounts") or {})
                                                                     .get("moved", 0.0))),
            "revenue_moved_share": revenue_share,
            "polsby_popper_mean": point_report["polsby_popper_mean"],
            "is_plan": alternative is None,
            "alternative": alternative.pk if alternative else None,
            "adopted_as": alternative.adopted_as if alternative else None,
            "adopted_as_id": alternative.adopted_as_id if alternative else None,
        }

    rows = [row(report, 1.0, None)] + [row(a.report, a.tolerance_factor, a) for a in alternatives]
    rows.sort(key=lambda item: item["factor"])
    for item in rows:
        # compared as reported (4 decimals): a point that is the plan again is the same choice, not a worse one
        deviation, moved = round(item["max_rel_dev"], 4), round(item["revenue_moved_share"], 4)
        better = [
            other
            for other in rows
            if (other_deviation := round(other["max_rel_dev"], 4)) <= deviation
            and (other_moved := round(other["revenue_moved_share"], 4)) <= moved
            and (other_deviation < deviation or other_moved < moved)
        ]
        item["dominated_by"] = tolerance_words(balance, better[0]["factor"]) if better else ""
    plan = next(item for item in rows if item["is_plan"])
    same = ("units_moved", "max_rel_dev", "revenue_moved_share", "polsby_popper_mean")
    for item in rows:  # a point the search ended on the plan again (its band asked for no other move)
        item["same_as_plan"] = not item["is_plan"] and all(round(item[f], 4) == round(plan[f], 4) for f in same)
    return rows


def optimizer_alternative_adopt_check(*, alternative: OptimizerAlternative) -> None:
    """Refuse a point that already is a scenario (one that still exists)."""
    if alternative.adopted_as_id is None:
        return
    adopted = Scenario.objects.filter(pk=alternative.adopted_as_id).only("name").first()
    if adopted is not None:
        words = tolerance_words(alternative.report.get("balance") or {}, alternative.tolerance_factor)
        raise ValidationError(f"This trade-off point ({words}) is already scenario #{adopted.pk}, “{adopted.name}”.")


def optimizer_alternative_adopt(*, alternative: OptimizerAlternative, user=None, progress: Progress = None) -> Scenario:
    """Make the trade-off point a planning scenario of the run's source, as the run made its plan one.

    Refused when the point already is a scenario, or when the source's units, alignment or measures changed since
    the run (its figures would no longer hold; realign again)."""
    started = time.monotonic()

    def notify(pct: float, message: str) -> None:
        if progress is not None:
            progress(pct, message)

    with transaction.atomic():
        alternative = OptimizerAlternative.objects.select_for_update(of=("self",)).get(pk=alternative.pk)
        optimizer_alternative_adopt_check(alternative=alternative)
        factor_words = tolerance_words(alternative.report.get("balance") or {}, alternative.tolerance_factor)
        source = Scenario.objects.filter(pk=alternative.report.get("source_scenario")).first()
        if source is None:
            raise ValidationError("The scenario this realignment started from no longer exists.")
        parent = None
        if alternative.report.get("parent"):
            parent = Territory.objects.filter(scenario=source, code=alternative.report["parent"]).first()
            if parent is None:
                raise ValidationError(f"“{source.name}” no longer has the territory {alternative.report['parent']}.")
        notify(5, "reading units and measures")
        scope = optimizer_scope(scenario=source, parent=parent)
        if source_digest(scope) != alternative.source_digest:
            raise ValidationError(
                f"“{source.name}” has changed since this realignment (its units, alignment or measures), so the "
                "point's figures no longer hold; realign it again."
            )
        assignment = _current_codes(scope)
        assignment.update(dict(alternative.changes))
        phases: dict[str, float] = {"read": round(time.monotonic() - started, 3)}
        stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M")
        result = plan_scenario(
            scenario=source,
            scope=scope,
            assignment=assignment,
            report=dict(alternative.report, chosen_from_run=alternative.run_id),
            user=user,
            name=f"{source.name} – realigned at {factor_words} ({stamp})"[:200],
            notify=notify,
            phases=phases,
            phase_start=time.monotonic(),
        )
        phases["total"] = round(time.monotonic() - started, 3)
        result.optimizer_report["phases_s"] = phases
        result.optimizer_report["total_runtime_s"] = phases["total"]
        Scenario.objects.filter(pk=result.pk).update(optimizer_report=result.optimizer_report)
        alternative.adopted_as = result
        alternative.save(update_fields=["adopted_as"])
    notify(100, "done")
    return result
