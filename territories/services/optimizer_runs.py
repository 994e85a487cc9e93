"""Optimiser runs: read a scenario's units and measures from PostGIS, design or realign its leaf territories with
the pure-Python optimiser, and write the plan into a new planning scenario (units, boundaries, accounts, report).

The read is one SQL statement (units with their geometry and the sums of the accounts inside them); the optimiser
runs outside any transaction; the write is one transaction that clones the source, places the units, rebuilds the
boundaries as unions and re-assigns the accounts set-based with source "optimizer".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import shapely
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import AccountAssignment
from territories.models import Scenario, Territory, TerritoryType, TerritoryUnit
from territories.optimizer import OptimizerInputError, UnitSet, design, realign
from territories.services.geography import territory_boundary_rebuild
from territories.services.scenarios import scenario_clone

MEASURES = ("accounts", "potential", "workload_hours", "annual_revenue")
MODES = ("design", "realign")
Progress = Callable[[float, str], None] | None


@dataclass
class OptimizerScope:
    """What one run works on: the leaf territories, their units (geo units or accounts) and the measures."""

    leaves: dict[int, Territory]  # territory id → leaf territory of the source scenario
    kind: str  # "geo_units" or "accounts"
    unit_ids: list[int] = field(default_factory=list)
    unit_territory: list[int] = field(default_factory=list)  # current leaf id per unit
    geometries: list = field(default_factory=list)
    measures: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in MEASURES})
    unit_accounts: list[list[int]] = field(default_factory=list)  # accounts placed in each unit

    @property
    def locked_leaf_ids(self) -> set[int]:
        return {pk for pk, territory in self.leaves.items() if territory.is_locked}


def _leaf_territories(*, scenario: Scenario, parent: Territory | None) -> dict[int, Territory]:
    """Leaves of the scenario (under `parent` when given), without named-account territories."""
    territories = list(Territory.objects.filter(scenario=scenario).select_related("territory_type"))
    children: dict[int | None, list[Territory]] = {}
    for territory in territories:
        children.setdefault(territory.parent_id, []).append(territory)
    if parent is not None:
        if parent.scenario_id != scenario.pk:
            raise ValidationError(f"Territory {parent.code} is not part of “{scenario.name}”.")
        stack, below = [parent.pk], []
        while stack:
            for child in children.get(stack.pop(), []):
                below.append(child)
                stack.append(child.pk)
        territories = below
    return {
        t.pk: t for t in territories
        if t.pk not in children
        and not (t.territory_type is not None and t.territory_type.kind == TerritoryType.Kind.NAMED)
    }


# Units of the leaves with their geometry and the sums of the accounts currently assigned there. An account is
# placed in the unit that contains it, or (the few outside every unit) in the nearest unit of its territory.
_GEO_UNIT_SQL = """
WITH scope_units AS (
    SELECT tu.unit_id, tu.territory_id FROM territories_territoryunit tu
    WHERE tu.scenario_id = %(scenario)s AND tu.territory_id = ANY(%(leaves)s)
),
scope_accounts AS (
    SELECT DISTINCT ON (x.account_id) x.account_id, x.territory_id
    FROM accounts_accountassignment x
    WHERE x.scenario_id = %(scenario)s AND x.valid_to IS NULL
      AND x.territory_id IN (SELECT territory_id FROM scope_units)
    ORDER BY x.account_id, x.territory_id
),
inside AS (
    SELECT DISTINCT ON (sa.account_id) sa.account_id, su.unit_id
    FROM scope_accounts sa
    JOIN accounts_account a ON a.id = sa.account_id
    JOIN territories_geounit g ON ST_Intersects(g.geometry, a.location)
    JOIN scope_units su ON su.unit_id = g.id
    ORDER BY sa.account_id, su.territory_id = sa.territory_id DESC, su.unit_id
),
placed AS (
    SELECT account_id, unit_id FROM inside
    UNION ALL
    SELECT sa.account_id, place.unit_id
    FROM scope_accounts sa
    JOIN accounts_account a ON a.id = sa.account_id AND a.location IS NOT NULL
    CROSS JOIN LATERAL (
        SELECT su.unit_id FROM scope_units su JOIN territories_geounit g ON g.id = su.unit_id
        WHERE su.territory_id = sa.territory_id ORDER BY g.geometry <-> a.location, su.unit_id LIMIT 1
    ) place
    WHERE NOT EXISTS (SELECT 1 FROM inside i WHERE i.account_id = sa.account_id)
)
SELECT su.unit_id, su.territory_id, ST_AsBinary(g.geometry),
       count(a.id), coalesce(sum(a.potential), 0), coalesce(sum(a.workload_hours), 0),
       coalesce(sum(a.annual_revenue), 0), coalesce(array_agg(a.id) FILTER (WHERE a.id IS NOT NULL), '{}')
FROM scope_units su
JOIN territories_geounit g ON g.id = su.unit_id
LEFT JOIN placed p ON p.unit_id = su.unit_id
LEFT JOIN accounts_account a ON a.id = p.account_id
GROUP BY su.unit_id, su.territory_id, g.geometry
ORDER BY su.unit_id
"""

# No geo units: each located account is a unit (the optimiser builds its proximity graph).
_ACCOUNT_UNIT_SQL = """
SELECT DISTINCT ON (a.id) a.id, x.territory_id, ST_AsBinary(a.location), 1, a.potential, a.workload_hours,
       a.annual_revenue, ARRAY[a.id]
FROM accounts_accountassignment x JOIN accounts_account a ON a.id = x.account_id
WHERE x.scenario_id = %(scenario)s AND x.valid_to IS NULL AND x.territory_id = ANY(%(leaves)s)
  AND a.location IS NOT NULL
ORDER BY a.id, x.territory_id
"""


def optimizer_scope(*, scenario: Scenario, parent: Territory | None = None) -> OptimizerScope:
    """The leaves, units and per-unit measures of a scenario (one SQL statement for units and sums)."""
    leaves = _leaf_territories(scenario=scenario, parent=parent)
    if not leaves:
        raise ValidationError(f"“{scenario.name}” has no leaf territories to optimise.")
    params = {"scenario": scenario.pk, "leaves": list(leaves)}
    with connection.cursor() as cursor:
        cursor.execute(_GEO_UNIT_SQL, params)
        rows = cursor.fetchall()
        kind = "geo_units"
        if not rows:
            cursor.execute(_ACCOUNT_UNIT_SQL, params)
            rows, kind = cursor.fetchall(), "accounts"
    if not rows:
        raise ValidationError(f"“{scenario.name}” has neither geo units nor located accounts in its territories.")
    if kind == "geo_units":  # leaves without units (overlays drawn over the geography) are not redesigned
        leaves = {pk: leaves[pk] for pk in {row[1] for row in rows}}
    scope = OptimizerScope(leaves=leaves, kind=kind)
    for unit_id, territory_id, wkb, count, potential, workload, revenue, accounts in rows:
        scope.unit_ids.append(unit_id)
        scope.unit_territory.append(territory_id)
        scope.geometries.append(shapely.from_wkb(bytes(wkb)))
        for name, value in zip(MEASURES, (count, potential, workload, revenue), strict=True):
            scope.measures[name].append(float(value))
        scope.unit_accounts.append(list(accounts))
    return scope


def optimizer_run_check(*, scenario: Scenario, k: int | None, balance: dict, mode: str,
                        parent: Territory | None = None) -> None:
    """Refuse, before queueing, a run that cannot work: no leaves, unknown measure, k above the number of units."""
    leaves = _leaf_territories(scenario=scenario, parent=parent)
    if not leaves:
        raise ValidationError(f"“{scenario.name}” has no leaf territories to optimise.")
    unit_rows = TerritoryUnit.objects.filter(scenario=scenario, territory_id__in=list(leaves))
    units = unit_rows.count()
    if units:
        leaves = set(unit_rows.values_list("territory_id", flat=True).distinct())
    else:
        units = (AccountAssignment.objects.filter(scenario=scenario, territory_id__in=list(leaves), valid_to=None,
                                                  account__location__isnull=False)
                 .values("account_id").distinct().count())
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


def _match_labels(plan_labels: list, scope: OptimizerScope, assignment: dict, free_leaf_ids: list[int]) -> dict:
    """Give each designed territory the existing leaf it overlaps most (fewest moves, names kept)."""
    from scipy.optimize import linear_sum_assignment

    current = dict(zip(scope.unit_ids, scope.unit_territory, strict=True))
    weight = dict(zip(scope.unit_ids, np.asarray(scope.measures["accounts"]) + 1.0, strict=True))
    overlap = np.zeros((len(plan_labels), len(free_leaf_ids)))
    row = {label: i for i, label in enumerate(plan_labels)}
    column = {pk: j for j, pk in enumerate(free_leaf_ids)}
    for unit_id, label in assignment.items():
        if label in row and current[unit_id] in column:
            overlap[row[label], column[current[unit_id]]] += weight[unit_id]
    rows, columns = linear_sum_assignment(-overlap)
    return {plan_labels[i]: free_leaf_ids[j] for i, j in zip(rows, columns, strict=True)}


def _ancestors_rebuild(*, scenario: Scenario) -> None:
    """Each unit-built parent's boundary becomes the union of its children's, deepest level first."""
    depths = Territory.objects.filter(scenario=scenario).values_list("depth", flat=True).order_by("-depth")[:1]
    with connection.cursor() as cursor:
        for depth in range(depths[0] if depths else 0, 0, -1):
            cursor.execute(
                """
                UPDATE territories_territory t SET boundary = u.geom, version = t.version + 1, updated_at = now()
                FROM (SELECT parent_id, ST_Multi(ST_CollectionExtract(ST_Union(boundary), 3)) AS geom
                      FROM territories_territory WHERE scenario_id = %s AND depth = %s AND parent_id IS NOT NULL
                        AND boundary IS NOT NULL GROUP BY parent_id) u
                WHERE t.id = u.parent_id AND t.built_from_units
                """,
                [scenario.pk, depth],
            )


def _summary(report: dict) -> dict:
    keys = ("k", "units", "max_rel_dev", "within_tolerance", "contiguous", "polsby_popper_mean", "polsby_popper_min",
            "runtime_s", "mode")
    summary = {key: report.get(key) for key in keys}
    summary["max_rel_dev_per_measure"] = {name: item.get("max_rel_dev") for name, item in report["measures"].items()}
    if report.get("disruption"):
        summary["units_moved"] = report["disruption"].get("units_moved")
    return summary


def optimizer_run(*, scenario: Scenario, k: int | None = None, balance: dict | None = None, mode: str = "design",
                  seed: int = 0, time_limit: float = 60, parent: Territory | None = None, user=None,
                  progress: Progress = None, name: str | None = None) -> Scenario:
    """Design (or realign) the leaf territories of `scenario` and return a new planning scenario with the plan."""
    started = time.monotonic()
    balance = {key: (float(weight), float(tolerance))
               for key, (weight, tolerance) in (balance or {"potential": (1.0, 0.05)}).items()}

    def notify(pct: float, message: str) -> None:
        if progress is not None:
            progress(pct, message)

    notify(1, "reading units and measures")
    scope = optimizer_scope(scenario=scenario, parent=parent)
    locked_leaf_ids = scope.locked_leaf_ids
    leaf_ids = sorted(scope.leaves)
    optimizer_params_check(balance=balance, k=k, mode=mode, units=len(scope.unit_ids), leaves=len(leaf_ids))
    codes = {pk: territory.code for pk, territory in scope.leaves.items()}
    current = {u: codes[t] for u, t in zip(scope.unit_ids, scope.unit_territory, strict=True)}
    locked = {u: codes[t] for u, t in zip(scope.unit_ids, scope.unit_territory, strict=True) if t in locked_leaf_ids}
    units = UnitSet(scope.unit_ids, scope.geometries, scope.measures)

    def optimiser_progress(pct: float, message: str) -> None:
        notify(5 + 0.85 * pct, message)  # 5..90 % of the job

    try:
        if mode == "realign":
            plan = realign(units, current, balance, seed=seed, time_limit=time_limit, move_weight="annual_revenue",
                           locked=locked or None, progress=optimiser_progress)
        else:
            plan = design(units, k or len(leaf_ids), balance, seed=seed, time_limit=time_limit,
                          locked=locked or None, progress=optimiser_progress)
    except OptimizerInputError as exc:
        raise ValidationError(str(exc)) from exc
    notify(91, "writing the new scenario")
    report = dict(plan.report, mode=mode, source_scenario=scenario.pk, unit_kind=scope.kind,
                  parent=parent.code if parent is not None else None, balance={m: list(v) for m, v in balance.items()})
    result = _plan_write(scenario=scenario, scope=scope, assignment=plan.assignment, report=report, user=user,
                         name=name, parent=parent)
    result.optimizer_report["total_runtime_s"] = round(time.monotonic() - started, 3)
    Scenario.objects.filter(pk=result.pk).update(optimizer_report=result.optimizer_report)
    notify(100, "done")
    return result


@transaction.atomic
def _plan_write(*, scenario: Scenario, scope: OptimizerScope, assignment: dict, report: dict, user, name,
                parent: Territory | None) -> Scenario:
    leaf_ids = sorted(scope.leaves)
    codes = {pk: t.code for pk, t in scope.leaves.items()}
    by_code = {t.code: pk for pk, t in scope.leaves.items()}
    free_leaf_ids = [pk for pk in leaf_ids if pk not in scope.locked_leaf_ids]
    labels = list(dict.fromkeys(assignment[u] for u in scope.unit_ids))
    if report["mode"] == "realign":
        label_leaf = {label: by_code[label] for label in labels}
    else:
        given = {label: by_code[label] for label in labels if label in by_code}  # locked ones keep their code
        free_labels = [label for label in labels if label not in given]
        label_leaf = dict(given, **_match_labels(free_labels, scope, assignment, free_leaf_ids))
    stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M")
    clone = scenario_clone(scenario=scenario, name=name or f"{scenario.name} – optimised ({report['mode']}, {stamp})",
                           created_by=user)
    clone_by_code = dict(Territory.objects.filter(scenario=clone).values_list("code", "pk"))
    target_of_label = {label: clone_by_code[codes[leaf]] for label, leaf in label_leaf.items()}
    # Designed territories without a matching leaf (k above the number of leaves) are new leaves beside the others.
    template = scope.leaves[free_leaf_ids[0]] if free_leaf_ids else scope.leaves[leaf_ids[0]]
    added = []
    for number, label in enumerate(label for label in labels if label not in label_leaf):
        new = Territory.objects.create(
            scenario=clone, parent_id=clone_by_code.get(template.parent.code) if template.parent_id else None,
            depth=template.depth, level_name=template.level_name, name=f"{template.name} (new {number + 1})",
            code=f"{template.code}-OPT{number + 1}", territory_type=template.territory_type,
            built_from_units=scope.kind == "geo_units")
        clone_by_code[new.code] = new.pk
        target_of_label[label] = new.pk
        added.append(new.pk)
    code_of_clone = {pk: code for code, pk in clone_by_code.items()}
    unit_target = {u: target_of_label[assignment[u]] for u in scope.unit_ids}
    moved = [i for i, u in enumerate(scope.unit_ids) if unit_target[u] != clone_by_code[codes[scope.unit_territory[i]]]]
    accounts, targets = [], []
    for i, unit_id in enumerate(scope.unit_ids):
        if scope.unit_territory[i] in scope.locked_leaf_ids:
            continue  # a locked territory keeps its units and its accounts exactly as they are
        accounts.extend(scope.unit_accounts[i])
        targets.extend([unit_target[unit_id]] * len(scope.unit_accounts[i]))
    free_clone_ids = [clone_by_code[codes[pk]] for pk in free_leaf_ids] + added
    now = timezone.now()
    reason = f"Optimiser {report['mode']} of “{scenario.name}” (#{scenario.pk})"[:300]
    with connection.cursor() as cursor:
        if scope.kind == "geo_units":
            cursor.execute(
                """
                UPDATE territories_territoryunit tu SET territory_id = v.territory_id
                FROM (SELECT unnest(%s::bigint[]) AS unit_id, unnest(%s::bigint[]) AS territory_id) v
                WHERE tu.scenario_id = %s AND tu.unit_id = v.unit_id AND tu.territory_id <> v.territory_id
                """,
                [scope.unit_ids, [unit_target[u] for u in scope.unit_ids], clone.pk],
            )
        # The clone's copies of the moved accounts' assignments were made a moment ago in this transaction:
        # replace them rather than close them, so the new scenario's history starts with the optimiser's decision.
        cursor.execute(
            """
            DELETE FROM accounts_accountassignment
            WHERE scenario_id = %s AND valid_to IS NULL AND territory_id = ANY(%s) AND account_id = ANY(%s)
              AND source <> 'override'
            """,
            [clone.pk, free_clone_ids, accounts],
        )
        cursor.execute(
            """
            INSERT INTO accounts_accountassignment (scenario_id, account_id, territory_id, valid_from, source, reason)
            SELECT %s, v.account_id, v.territory_id, %s, 'optimizer', %s
            FROM (SELECT unnest(%s::bigint[]) AS account_id, unnest(%s::bigint[]) AS territory_id) v
            ON CONFLICT DO NOTHING
            """,
            [clone.pk, now, reason, accounts, targets],
        )
        reassigned = cursor.rowcount
    empty = [pk for pk in free_clone_ids if pk not in set(unit_target.values())]
    if empty:  # fewer territories than leaves: the leaves left without units go
        Territory.objects.filter(pk__in=empty, children__isnull=True).delete()
    if scope.kind == "geo_units":
        territory_boundary_rebuild(territory_ids=sorted(set(unit_target.values())))
        _ancestors_rebuild(scenario=clone)
    revenue = np.asarray(scope.measures["annual_revenue"])
    counts = np.asarray(scope.measures["accounts"])
    report["disruption"] = dict(report.get("disruption") or {}, units_moved=len(moved),
                                units_moved_share=round(len(moved) / len(scope.unit_ids), 4),
                                accounts_moved=int(counts[moved].sum()),
                                revenue_moved=round(float(revenue[moved].sum()), 2),
                                revenue_moved_share=round(float(revenue[moved].sum() / revenue.sum()), 4)
                                if revenue.sum() else 0.0)
    report["accounts_reassigned"] = reassigned
    report["territory_codes"] = {str(label): code_of_clone[pk] for label, pk in target_of_label.items()}
    for item in report.get("territories", []):
        item["code"] = report["territory_codes"].get(str(item["territory"]))
    report["summary"] = _summary(report)
    clone.optimizer_report = report
    clone.save(update_fields=["optimizer_report", "updated_at"])
    return clone
