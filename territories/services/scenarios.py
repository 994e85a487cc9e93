"""Scenario lifecycle: create, clone, activate (now or on a date), roll back, compare."""

import datetime as dt
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.services.assignment_partitions import assignments_insert
from territories.models import Scenario, ScenarioEvent


def scenario_ensure_editable(*, scenario: Scenario) -> None:
    """Refuse edits to active and archived scenarios: they are the record of what was (or is) in force."""
    if scenario.status != Scenario.Status.PLANNING:
        raise ValidationError(
            f'Scenario "{scenario.name}" is {scenario.get_status_display().lower()} and cannot be edited; '
            "clone it into a planning scenario and edit the clone."
        )


def scenario_touch(*, scenario: Scenario) -> None:
    """Bump the version after an edit to anything inside the scenario."""
    Scenario.objects.filter(pk=scenario.pk).update(version=F("version") + 1, updated_at=timezone.now())


def _event(scenario: Scenario, action: str, actor=None, **detail) -> ScenarioEvent:
    return ScenarioEvent.objects.create(scenario=scenario, action=action, actor=actor, detail=detail)


@transaction.atomic
def scenario_create(*, name: str, description: str = "", created_by=None) -> Scenario:
    name = (name or "").strip()
    if not name:
        raise ValidationError("A scenario needs a name.")
    scenario = Scenario.objects.create(name=name, description=description, created_by=created_by)
    _event(scenario, ScenarioEvent.Action.CREATED, created_by)
    return scenario


@transaction.atomic
def scenario_update(
    *, scenario: Scenario, name: str | None = None, description: str | None = None, actor=None
) -> Scenario:
    """Rename or describe a scenario (allowed in any status: it changes no alignment)."""
    if name is not None:
        if not name.strip():
            raise ValidationError("A scenario needs a name.")
        scenario.name = name.strip()
    if description is not None:
        scenario.description = description
    scenario.version += 1
    scenario.save(update_fields=["name", "description", "version", "updated_at"])
    return scenario


# Each statement copies one table of the source scenario in one INSERT ... SELECT. New ids are drawn from the
# sequences first into mapping tables, so children, rules, overrides and assignments can point at the copies.
_CLONE_SQL = [
    """
    CREATE TEMP TABLE _clone_territory ON COMMIT DROP AS
    SELECT id AS old_id, nextval(pg_get_serial_sequence('territories_territory', 'id')) AS new_id
    FROM territories_territory WHERE scenario_id = %(source)s
    """,
    """
    INSERT INTO territories_territory
        (id, scenario_id, parent_id, depth, level_name, name, code, territory_type_id, boundary, built_from_units,
         is_locked, color, version, created_at, updated_at)
    SELECT m.new_id, %(target)s, pm.new_id, t.depth, t.level_name, t.name, t.code, t.territory_type_id,
           CASE WHEN nb.old_id IS NULL THEN t.boundary ELSE ST_SetSRID(ST_GeomFromWKB(nb.wkb), 4326) END,
           t.built_from_units, t.is_locked, t.color, 1, %(now)s, %(now)s
    FROM territories_territory t
    JOIN _clone_territory m ON m.old_id = t.id
    LEFT JOIN _clone_territory pm ON pm.old_id = t.parent_id
    LEFT JOIN (SELECT unnest(%(boundary_ids)s::bigint[]) AS old_id, unnest(%(boundary_wkbs)s::bytea[]) AS wkb) nb
        ON nb.old_id = t.id
    ORDER BY t.depth
    """,
    """
    INSERT INTO territories_historicalterritory
        (id, scenario_id, parent_id, depth, level_name, name, code, territory_type_id, built_from_units, is_locked,
         color, version, created_at, updated_at, history_date, history_change_reason, history_type, history_user_id)
    SELECT t.id, t.scenario_id, t.parent_id, t.depth, t.level_name, t.name, t.code, t.territory_type_id,
           t.built_from_units, t.is_locked, t.color, t.version, t.created_at, t.updated_at, %(now)s,
           'cloned', '+', %(actor)s
    FROM territories_territory t WHERE t.scenario_id = %(target)s
    """,
    """
    INSERT INTO territories_territoryunit (scenario_id, territory_id, unit_id)
    SELECT %(target)s, coalesce(pm.new_id, m.new_id), tu.unit_id
    FROM territories_territoryunit tu JOIN _clone_territory m ON m.old_id = tu.territory_id
    LEFT JOIN (SELECT unnest(%(unit_ids)s::bigint[]) AS unit_id, unnest(%(unit_territory_ids)s::bigint[]) AS old_id) p
        ON p.unit_id = tu.unit_id
    LEFT JOIN _clone_territory pm ON pm.old_id = p.old_id
    WHERE tu.scenario_id = %(source)s
    """,
    """
    CREATE TEMP TABLE _clone_rule ON COMMIT DROP AS
    SELECT r.id AS old_id, nextval(pg_get_serial_sequence('territories_assignmentrule', 'id')) AS new_id
    FROM territories_assignmentrule r JOIN _clone_territory m ON m.old_id = r.territory_id
    """,
    """
    INSERT INTO territories_assignmentrule
        (id, territory_id, name, priority, logic, criteria, within_boundary, applies_to_children, is_active,
         created_at, updated_at)
    SELECT rm.new_id, m.new_id, r.name, r.priority, r.logic, r.criteria, r.within_boundary, r.applies_to_children,
           r.is_active, %(now)s, %(now)s
    FROM territories_assignmentrule r
    JOIN _clone_rule rm ON rm.old_id = r.id
    JOIN _clone_territory m ON m.old_id = r.territory_id
    """,
    """
    INSERT INTO territories_historicalassignmentrule
        (id, territory_id, name, priority, logic, criteria, within_boundary, applies_to_children, is_active,
         created_at, updated_at, history_date, history_change_reason, history_type, history_user_id)
    SELECT r.id, r.territory_id, r.name, r.priority, r.logic, r.criteria, r.within_boundary, r.applies_to_children,
           r.is_active, r.created_at, r.updated_at, %(now)s, 'cloned', '+', %(actor)s
    FROM territories_assignmentrule r JOIN _clone_rule rm ON rm.new_id = r.id
    """,
    """
    CREATE TEMP TABLE _clone_override ON COMMIT DROP AS
    SELECT o.id AS old_id, nextval(pg_get_serial_sequence('accounts_accountoverride', 'id')) AS new_id
    FROM accounts_accountoverride o WHERE o.scenario_id = %(source)s AND o.is_active
    """,
    """
    INSERT INTO accounts_accountoverride
        (id, scenario_id, account_id, territory_id, kind, reason, is_active, created_by_id, created_at)
    SELECT om.new_id, %(target)s, o.account_id, m.new_id, o.kind, o.reason, TRUE, o.created_by_id, %(now)s
    FROM accounts_accountoverride o
    JOIN _clone_override om ON om.old_id = o.id
    JOIN _clone_territory m ON m.old_id = o.territory_id
    """,
    """
    INSERT INTO accounts_historicalaccountoverride
        (id, scenario_id, account_id, territory_id, kind, reason, is_active, created_by_id, created_at,
         history_date, history_change_reason, history_type, history_user_id)
    SELECT o.id, o.scenario_id, o.account_id, o.territory_id, o.kind, o.reason, o.is_active, o.created_by_id,
           o.created_at, %(now)s, 'cloned', '+', %(actor)s
    FROM accounts_accountoverride o JOIN _clone_override om ON om.new_id = o.id
    """,
    # the current assignments, through assignments_insert (a large copy gets the clone its own partition)
    """
    SELECT %(target)s, a.account_id, m.new_id, %(now)s, NULL, a.source, rm.new_id, om.new_id, NULL, a.reason
    FROM accounts_accountassignment a
    JOIN _clone_territory m ON m.old_id = a.territory_id
    LEFT JOIN _clone_rule rm ON rm.old_id = a.rule_id
    LEFT JOIN _clone_override om ON om.old_id = a.override_id
    LEFT JOIN (SELECT DISTINCT unnest(%(account_ids)s::bigint[]) AS account_id) moved
        ON moved.account_id = a.account_id AND a.territory_id = ANY(%(replaced_ids)s) AND a.source <> 'override'
    WHERE a.scenario_id = %(source)s AND a.valid_to IS NULL AND moved.account_id IS NULL
    """,
    """
    INSERT INTO accounts_accountassignment (scenario_id, account_id, territory_id, valid_from, source, reason)
    SELECT %(target)s, p.account_id, m.new_id, %(now)s, %(assignment_source)s, %(assignment_reason)s
    FROM (SELECT unnest(%(account_ids)s::bigint[]) AS account_id,
                 unnest(%(account_territory_ids)s::bigint[]) AS old_id) p
    JOIN _clone_territory m ON m.old_id = p.old_id
    ON CONFLICT DO NOTHING
    """,
    # Reps keep covering the copies of their territories (owners, overlays, specialists, vacancies), as far as
    # their assignments have not ended: a planning scenario shows who would cover what, and activating it does not
    # leave reps without a book. They are then reassigned in the plan like any other change.
    """
    INSERT INTO reps_repassignment (rep_id, territory_id, role, valid_from, valid_to, note)
    SELECT ra.rep_id, m.new_id, ra.role, ra.valid_from, ra.valid_to, ra.note
    FROM reps_repassignment ra JOIN _clone_territory m ON m.old_id = ra.territory_id
    WHERE ra.valid_to IS NULL OR ra.valid_to > %(today)s
    ORDER BY ra.id
    """,
    """
    INSERT INTO reps_historicalrepassignment
        (id, rep_id, territory_id, role, valid_from, valid_to, note, history_date, history_change_reason,
         history_type, history_user_id)
    SELECT ra.id, ra.rep_id, ra.territory_id, ra.role, ra.valid_from, ra.valid_to, ra.note, %(now)s, 'cloned', '+',
           %(actor)s
    FROM reps_repassignment ra JOIN _clone_territory m ON m.new_id = ra.territory_id
    """,
]


@dataclass
class ClonePlan:
    """What a clone takes from a plan instead of copying it from the source (all ids are the source's).

    The optimiser writes its plan this way, in the clone's own INSERT ... SELECT statements, instead of copying the
    source and then overwriting most of the copy.
    """

    boundaries: dict[int, bytes] = field(default_factory=dict)  # territory id → its copy's boundary (WKB, EPSG:4326)
    unit_territory: dict[int, int] = field(default_factory=dict)  # geo unit id → territory whose copy holds it
    # The current assignments of these accounts to these territories (overrides excepted) are not copied; each
    # account gets a new one to the copy of its territory in account_territory, with this source and reason.
    replaced_territories: list[int] = field(default_factory=list)
    account_territory: dict[int, int] = field(default_factory=dict)
    assignment_source: str = ""
    assignment_reason: str = ""


@transaction.atomic
def scenario_clone(
    *, scenario: Scenario, name: str | None = None, created_by=None, plan: ClonePlan | None = None
) -> Scenario:
    """A planning copy of any scenario: hierarchy, boundaries, units, rules, overrides, current assignments and the
    reps covering its territories (with `plan`: some boundaries, units and assignments as the plan says instead)."""
    now = timezone.now()
    plan = plan or ClonePlan()
    clone = Scenario.objects.create(
        name=(name or f"{scenario.name} (copy)").strip(),
        description=scenario.description,
        cloned_from=scenario,
        created_by=created_by,
    )
    counts = {}
    params = {
        "source": scenario.pk,
        "target": clone.pk,
        "now": now,
        "today": timezone.localdate(now),
        "actor": created_by.pk if created_by is not None else None,
        "boundary_ids": list(plan.boundaries),
        "boundary_wkbs": list(plan.boundaries.values()),
        "unit_ids": list(plan.unit_territory),
        "unit_territory_ids": list(plan.unit_territory.values()),
        "replaced_ids": plan.replaced_territories,
        "account_ids": list(plan.account_territory),
        "account_territory_ids": list(plan.account_territory.values()),
        "assignment_source": plan.assignment_source,
        "assignment_reason": plan.assignment_reason,
    }
    labels = [
        None,
        "territories",
        None,
        "territory_units",
        None,
        "rules",
        None,
        None,
        "overrides",
        None,
        "assignments",
        "reassigned",
        "rep_assignments",
        None,
    ]
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS _clone_territory, _clone_rule, _clone_override")
        for label, sql in zip(labels, _CLONE_SQL, strict=True):
            if label == "reassigned" and not plan.account_territory:
                continue
            if label == "assignments":
                cursor.execute(
                    "SELECT count(*) FROM accounts_accountassignment WHERE scenario_id = %s AND valid_to IS NULL",
                    [scenario.pk],
                )
                counts[label] = assignments_insert(
                    cursor, scenario_id=clone.pk, select_sql=sql, params=params, rows_expected=cursor.fetchone()[0]
                )
                continue
            cursor.execute(sql, params)
            if label:
                counts[label] = cursor.rowcount
        if "reassigned" in counts:
            counts["assignments"] += counts["reassigned"]
        cursor.execute("DROP TABLE _clone_territory, _clone_rule, _clone_override")
    _event(clone, ScenarioEvent.Action.CLONED, created_by, source_id=scenario.pk, source_name=scenario.name, **counts)
    return clone


def _lock_for_activation(scenario: Scenario) -> tuple[Scenario, Scenario | None]:
    """Lock the target and the currently active scenario (in id order, so two activations cannot deadlock)."""
    locked = list(
        Scenario.objects.select_for_update().filter(Q(pk=scenario.pk) | Q(status=Scenario.Status.ACTIVE)).order_by("pk")
    )
    target = next(item for item in locked if item.pk == scenario.pk)
    current = next((item for item in locked if item.status == Scenario.Status.ACTIVE and item.pk != scenario.pk), None)
    return target, current


@transaction.atomic
def scenario_activate(*, scenario: Scenario, actor=None, via: str = "manual") -> Scenario:
    """Make a scenario the active one; the old active one is archived in the same transaction."""
    target, current = _lock_for_activation(scenario)
    if target.status == Scenario.Status.ACTIVE:
        raise ValidationError(f'Scenario "{target.name}" is already active.')
    now = timezone.now()
    if current is not None:
        current.status = Scenario.Status.ARCHIVED
        current.archived_at = now
        current.save(update_fields=["status", "archived_at", "updated_at"])
        _event(current, ScenarioEvent.Action.ARCHIVED, actor, replaced_by=target.pk)
    if via != "rollback":
        target.previous_active = current
    target.status = Scenario.Status.ACTIVE
    target.activated_at = now
    target.archived_at = None
    target.scheduled_activation_at = None
    target.save(
        update_fields=[
            "status",
            "activated_at",
            "archived_at",
            "scheduled_activation_at",
            "previous_active",
            "updated_at",
        ]
    )
    _event(target, ScenarioEvent.Action.ACTIVATED, actor, via=via, replaced=current.pk if current else None)
    from core.webhooks import webhook_emit

    # Recorded in this transaction, sent only once it commits (nothing is announced if the activation fails).
    webhook_emit(
        event="scenario.activated",
        payload={
            "scenario": target.pk,
            "name": target.name,
            "activated_at": now,
            "via": via,
            "previous_active": current.pk if current else None,
            "actor": getattr(actor, "username", None),
        },
    )
    scenario.refresh_from_db()
    return target


@transaction.atomic
def scenario_schedule_activation(*, scenario: Scenario, at: dt.datetime | None, actor=None) -> Scenario:
    """Activate a planning scenario on a future date (None cancels); the beat task does it when it is due."""
    scenario = Scenario.objects.select_for_update().get(pk=scenario.pk)
    if at is not None:
        if scenario.status != Scenario.Status.PLANNING:
            raise ValidationError(f'Only planning scenarios can be scheduled; "{scenario.name}" is {scenario.status}.')
        if timezone.is_naive(at):
            raise ValidationError("Give the activation time with its time zone.")
        if at <= timezone.now():
            raise ValidationError("The activation time must be in the future; activate now instead.")
    scenario.scheduled_activation_at = at
    scenario.save(update_fields=["scheduled_activation_at", "updated_at"])
    _event(scenario, ScenarioEvent.Action.SCHEDULED, actor, at=at.isoformat() if at else None)
    return scenario


def scenario_activate_due(*, now: dt.datetime | None = None) -> list[int]:
    """Activate the scenarios whose scheduled time has come, oldest schedule first; returns their ids."""
    now = now or timezone.now()
    activated = []
    due = Scenario.objects.filter(status=Scenario.Status.PLANNING, scheduled_activation_at__lte=now)
    for scenario in due.order_by("scheduled_activation_at", "pk"):
        scenario_activate(scenario=scenario, via="schedule")
        activated.append(scenario.pk)
    return activated


@transaction.atomic
def scenario_rollback(*, scenario: Scenario | None = None, actor=None) -> Scenario:
    """Put the previously active scenario back in force; the rolled-back one returns to planning to be fixed."""
    active = Scenario.objects.select_for_update().filter(status=Scenario.Status.ACTIVE).first()
    if active is None or (scenario is not None and active.pk != scenario.pk):
        raise ValidationError("Only the active scenario can be rolled back.")
    previous = active.previous_active
    if previous is None:
        raise ValidationError(f'Scenario "{active.name}" has no previously active scenario to roll back to.')
    active.status = Scenario.Status.PLANNING
    active.save(update_fields=["status", "updated_at"])
    _event(active, ScenarioEvent.Action.ROLLED_BACK, actor, restored=previous.pk)
    return scenario_activate(scenario=previous, actor=actor, via="rollback")
