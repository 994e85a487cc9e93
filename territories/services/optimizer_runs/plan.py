"""The plan in the source scenario's terms, its boundaries (dissolved in GEOS) and its set-based write as a clone."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import AccountAssignment
from territories.models import Scenario, Territory
from territories.services.scenarios import ClonePlan, scenario_clone
from territories.workspace.selectors import PALETTE

from .notes import balance_notes, run_summary
from .scope import OptimizerScope


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


@dataclass
class PlanLayout:
    """Where the plan puts things, in the source scenario's terms: each label's leaf (None: a new territory)."""

    labels: list  # the plan's territory labels, in the order of the units
    unit_label: dict  # unit id → label
    label_leaf: dict  # label → source leaf id, or None when the plan has more territories than leaves
    empty_leaf_ids: list[int]  # free leaves the plan left without units (they go when they have no children)
    tree: dict[int, tuple]  # every territory of the source: id → (parent id, depth, built from units, code)
    template: Territory  # what a new territory is modelled on

    def key(self, label) -> int | str:
        """The source id of a label's territory, or "new:<label>" for a new one."""
        leaf = self.label_leaf[label]
        return leaf if leaf is not None else f"new:{label}"


def plan_layout(*, scenario: Scenario, scope: OptimizerScope, assignment: dict, mode: str) -> PlanLayout:
    leaf_ids = sorted(scope.leaves)
    by_code = {t.code: pk for pk, t in scope.leaves.items()}
    free_leaf_ids = [pk for pk in leaf_ids if pk not in scope.locked_leaf_ids]
    labels = list(dict.fromkeys(assignment[u] for u in scope.unit_ids))
    if mode == "realign":
        label_leaf = {label: by_code[label] for label in labels}
    else:
        given = {label: by_code[label] for label in labels if label in by_code}  # locked ones keep their code
        free_labels = [label for label in labels if label not in given]
        label_leaf = dict(given, **_match_labels(free_labels, scope, assignment, free_leaf_ids))
    label_leaf.update({label: None for label in labels if label not in label_leaf})
    used = set(label_leaf.values())
    tree = {
        pk: (parent, depth, built, code)
        for pk, parent, depth, built, code in Territory.objects.filter(scenario=scenario).values_list(
            "pk", "parent_id", "depth", "built_from_units", "code"
        )
    }
    return PlanLayout(
        labels=labels,
        unit_label=dict(assignment),
        label_leaf=label_leaf,
        empty_leaf_ids=[pk for pk in free_leaf_ids if pk not in used],
        tree=tree,
        template=scope.leaves[free_leaf_ids[0] if free_leaf_ids else leaf_ids[0]],
    )


def _multipolygon(shape) -> shapely.MultiPolygon | None:
    polygons = []
    for part in shapely.get_parts(shape):
        if part.geom_type == "Polygon":
            polygons.append(part)
        elif part.geom_type == "MultiPolygon":
            polygons.extend(part.geoms)
    return shapely.MultiPolygon(polygons) if polygons else None


def _dissolve(parts: list) -> shapely.MultiPolygon | None:
    """The union of polygons that tile without overlapping (geo units, or territories built from them).

    GEOS's coverage union only drops the shared edges (~0.8 s for the 3,142 counties, where a general overlay takes
    5-10 s). It is kept only when it is valid and has the parts' total area (no overlaps); otherwise the general
    union, made valid, as territory_boundary_rebuild computes it in SQL.
    """
    parts = [part for part in parts if part is not None and not part.is_empty]
    if not parts:
        return None
    total = float(shapely.area(parts).sum())
    try:
        shape = shapely.coverage_union_all(parts)
        exact = shape.is_valid and abs(shape.area - total) <= 1e-9 * max(total, 1e-12)
    except shapely.errors.GEOSException:
        exact = False
    if not exact:
        shape = shapely.make_valid(shapely.union_all(shapely.make_valid(np.asarray(parts, dtype=object))))
    return _multipolygon(shape)


def plan_boundaries(*, scenario: Scenario, scope: OptimizerScope, layout: PlanLayout) -> dict:
    """New boundaries keyed like PlanLayout.key: each leaf of the plan the union of its units (all of them, so a
    stale source boundary is mended too), then every unit-built ancestor of those leaves and of the emptied ones the
    union of its children's boundaries, deepest level first."""
    geometries = dict(zip(scope.unit_ids, scope.geometries, strict=True))
    members: dict = {}
    for unit_id, label in layout.unit_label.items():
        members.setdefault(label, []).append(geometries[unit_id])
    shapes: dict = {layout.key(label): _dissolve(members[label]) for label in layout.labels}
    children: dict = {}
    for pk, (parent, *_rest) in layout.tree.items():
        if pk not in layout.empty_leaf_ids:
            children.setdefault(parent, []).append(pk)
    template_parent = layout.tree[layout.template.pk][0]
    for label in layout.labels:
        if layout.label_leaf[label] is None:
            children.setdefault(template_parent, []).append(layout.key(label))
    affected: set[int] = set()
    for key in list(shapes) + layout.empty_leaf_ids:
        parent = template_parent if isinstance(key, str) else layout.tree[key][0]
        while parent is not None and parent not in affected:
            affected.add(parent)
            parent = layout.tree[parent][0]
    rebuilt = sorted((pk for pk in affected if layout.tree[pk][2]), key=lambda pk: -layout.tree[pk][1])
    kept = {child for pk in rebuilt for child in children.get(pk, []) if child not in shapes and child not in rebuilt}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, ST_AsBinary(boundary) FROM territories_territory WHERE id = ANY(%s) AND boundary IS NOT NULL",
            [sorted(kept)],
        )
        current = {pk: shapely.from_wkb(bytes(wkb)) for pk, wkb in cursor.fetchall()}
    for pk in rebuilt:
        shapes[pk] = _dissolve(
            [shapes[child] if child in shapes else current.get(child) for child in children.get(pk, [])]
        )
    return shapes


@transaction.atomic
def plan_scenario(
    *,
    scenario: Scenario,
    scope: OptimizerScope,
    assignment: dict,
    report: dict,
    user,
    name,
    notify,
    phases: dict,
    phase_start: float,
) -> Scenario:
    """A new planning scenario of `scenario` with the units placed as `assignment` says (unit id → label): the
    labels matched to the leaves, the boundaries dissolved, then the clone written with `report`."""
    notify(91, "building the boundaries")
    layout = plan_layout(scenario=scenario, scope=scope, assignment=assignment, mode=report["mode"])
    boundaries = plan_boundaries(scenario=scenario, scope=scope, layout=layout) if scope.kind == "geo_units" else {}
    mark = time.monotonic()
    phases["boundaries"] = round(mark - phase_start, 3)
    return plan_write(
        scenario=scenario,
        scope=scope,
        layout=layout,
        boundaries=boundaries,
        report=report,
        user=user,
        name=name,
        notify=notify,
        phases=phases,
        phase_start=mark,
    )


def plan_write(
    *,
    scenario: Scenario,
    scope: OptimizerScope,
    layout: PlanLayout,
    boundaries: dict,
    report: dict,
    user,
    name,
    notify,
    phases: dict,
    phase_start: float,
) -> Scenario:
    """Clone the source with the plan's units, assignments and boundaries in the clone's own set-based statements;
    territories the plan adds (more than there were leaves) are created and filled afterwards."""
    notify(93, "cloning the scenario with the plan")
    locked = scope.locked_leaf_ids
    unit_leaf = {u: layout.label_leaf[layout.unit_label[u]] for u in scope.unit_ids}
    account_leaf = {}
    for i, unit_id in enumerate(scope.unit_ids):
        if scope.unit_territory[i] not in locked:  # a locked territory keeps its units and accounts exactly
            account_leaf.update(dict.fromkeys(scope.unit_accounts[i], unit_leaf[unit_id]))
    reason = f"Optimiser {report['mode']} of “{scenario.name}” (#{scenario.pk})"[:300]
    stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M")
    clone = scenario_clone(
        scenario=scenario,
        name=name or f"{scenario.name} – optimised ({report['mode']}, {stamp})",
        created_by=user,
        plan=ClonePlan(
            boundaries={key: shape.wkb for key, shape in boundaries.items() if isinstance(key, int) and shape},
            unit_territory={u: leaf for u, leaf in unit_leaf.items() if leaf is not None}
            if scope.kind == "geo_units"
            else {},
            replaced_territories=[pk for pk in scope.leaves if pk not in locked],
            account_territory=account_leaf,
            assignment_source=AccountAssignment.Source.OPTIMIZER,
            assignment_reason=reason,
        ),
    )
    mark = time.monotonic()
    phases["clone"] = round(mark - phase_start, 3)
    notify(97, "writing the report")
    clone_by_code = dict(Territory.objects.filter(scenario=clone).values_list("code", "pk"))
    clone_of = {pk: clone_by_code[code] for pk, (_, _, _, code) in layout.tree.items()}
    new_labels = [label for label in layout.labels if layout.label_leaf[label] is None]
    if new_labels:
        _new_territories_fill(
            clone=clone,
            scope=scope,
            layout=layout,
            labels=new_labels,
            boundaries=boundaries,
            clone_of=clone_of,
            account_leaf=account_leaf,
            reason=reason,
        )
    if layout.empty_leaf_ids:  # fewer territories than leaves: the leaves left without units go
        Territory.objects.filter(pk__in=[clone_of[pk] for pk in layout.empty_leaf_ids], children__isnull=True).delete()
    target_of_label = {label: clone_of[layout.key(label)] for label in layout.labels}
    moved = [
        i
        for i, u in enumerate(scope.unit_ids)
        if target_of_label[layout.unit_label[u]] != clone_of[scope.unit_territory[i]]
    ]
    code_of_clone = {pk: code for code, pk in clone_by_code.items()}
    code_of_clone.update(
        {
            pk: code
            for code, pk in Territory.objects.filter(
                pk__in=set(target_of_label.values()) - set(code_of_clone)
            ).values_list("code", "pk")
        }
    )
    revenue = np.asarray(scope.measures["annual_revenue"])
    counts = np.asarray(scope.measures["accounts"])
    report["disruption"] = dict(
        report.get("disruption") or {},
        units_moved=len(moved),
        units_moved_share=round(len(moved) / len(scope.unit_ids), 4),
        accounts_moved=int(counts[moved].sum()),
        revenue_moved=round(float(revenue[moved].sum()), 2),
        revenue_moved_share=round(float(revenue[moved].sum() / revenue.sum()), 4) if revenue.sum() else 0.0,
    )
    report["accounts_reassigned"] = AccountAssignment.objects.filter(
        scenario=clone, valid_to=None, source=AccountAssignment.Source.OPTIMIZER
    ).count()
    report["territory_codes"] = {str(label): code_of_clone[pk] for label, pk in target_of_label.items()}
    for item in report.get("territories", []):
        item["code"] = report["territory_codes"].get(str(item["territory"]))
    report["notes"] = balance_notes(report=report, scope=scope, layout=layout)
    report["summary"] = run_summary(report)
    clone.optimizer_report = report
    clone.save(update_fields=["optimizer_report", "updated_at"])
    phases["report"] = round(time.monotonic() - mark, 3)
    return clone


def _new_territories_fill(
    *,
    clone: Scenario,
    scope: OptimizerScope,
    layout: PlanLayout,
    labels: list,
    boundaries: dict,
    clone_of: dict,
    account_leaf: dict,
    reason: str,
) -> None:
    """New leaves beside the template for the plan's extra territories, with their units, accounts and boundary."""
    template = layout.template
    used = set(Territory.objects.filter(scenario=clone).values_list("color", flat=True))
    colors = [color for color in PALETTE if color not in used] or list(PALETTE)  # told apart on the map
    for number, label in enumerate(labels):
        new = Territory.objects.create(
            color=colors[number % len(colors)],
            scenario=clone,
            parent_id=clone_of.get(template.parent_id),
            depth=template.depth,
            level_name=template.level_name,
            name=f"{template.name} (new {number + 1})",
            code=f"{template.code}-OPT{number + 1}",
            territory_type=template.territory_type,
            built_from_units=scope.kind == "geo_units",
            boundary=GEOSGeometry(memoryview(boundaries[layout.key(label)].wkb), srid=4326)
            if boundaries.get(layout.key(label))
            else None,
        )
        clone_of[layout.key(label)] = new.pk
    units = [
        (u, clone_of[layout.key(layout.unit_label[u])])
        for u in scope.unit_ids
        if layout.label_leaf[layout.unit_label[u]] is None
    ]
    unit_of_account = {a: u for u, accounts in zip(scope.unit_ids, scope.unit_accounts, strict=True) for a in accounts}
    accounts = [
        (a, clone_of[layout.key(layout.unit_label[unit_of_account[a]])])
        for a, leaf in account_leaf.items()
        if leaf is None
    ]
    with connection.cursor() as cursor:
        if scope.kind == "geo_units":
            cursor.execute(
                """
                UPDATE territories_territoryunit tu SET territory_id = v.territory_id
                FROM (SELECT unnest(%s::bigint[]) AS unit_id, unnest(%s::bigint[]) AS territory_id) v
                WHERE tu.scenario_id = %s AND tu.unit_id = v.unit_id
                """,
                [[u for u, _ in units], [t for _, t in units], clone.pk],
            )
        cursor.execute(
            """
            INSERT INTO accounts_accountassignment (scenario_id, account_id, territory_id, valid_from, source, reason)
            SELECT %s, v.account_id, v.territory_id, %s, 'optimizer', %s
            FROM (SELECT unnest(%s::bigint[]) AS account_id, unnest(%s::bigint[]) AS territory_id) v
            ON CONFLICT DO NOTHING
            """,
            [clone.pk, timezone.now(), reason, [a for a, _ in accounts], [t for _, t in accounts]],
        )
