"""Applying an approved change to a scenario, the way a manual edit would.

Where the owning app has a service it is called; where it does not exist yet, the minimum is done here,
each with a TODO naming the service to switch to. Every writer records the request as the reason:
AccountAssignment.reason (source "manual"), history change reasons on rules, rep assignments and the scenario.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from simple_history.utils import update_change_reason

from accounts.models import AccountAssignment
from collaboration.selectors.impact import AlignmentDelta
from territories.models import AssignmentRule, Scenario, Territory, TerritoryUnit


def scenario_version_bump(*, scenario: Scenario, reason: str) -> Scenario:
    """Bump the edit counter under a row lock, with the request as the history's reason."""
    locked = Scenario.objects.select_for_update().get(pk=scenario.pk)
    locked.version += 1
    locked._change_reason = reason
    locked.save(update_fields=["version", "updated_at"])
    return locked


def _workspace():
    """The map workspace's services, or None while they are not installed."""
    try:
        from territories.workspace import services
    except ImportError:
        return None
    return services


def _record_reason(*, scenario: Scenario, pairs: list[tuple[int, int]], reason: str, edit=None) -> list[int]:
    """Write the request as the reason of the assignments an edit just opened (and on its undo log line)."""
    ids = []
    for territory_id in {territory for _, territory in pairs}:
        rows = AccountAssignment.objects.filter(
            scenario=scenario, territory_id=territory_id, valid_to__isnull=True,
            account_id__in=[account for account, territory in pairs if territory == territory_id],
        )
        ids += list(rows.values_list("pk", flat=True))
        rows.update(reason=reason, source=AccountAssignment.Source.MANUAL)
    if edit is not None:
        edit.summary = f"{edit.summary} ({reason.split(':')[0]})"[:300]
        edit.save(update_fields=["summary"])
    return sorted(ids)


def accounts_reassign(*, scenario: Scenario, delta: AlignmentDelta, reason: str, user=None,
                      at: dt.datetime | None = None, use_workspace: bool = True) -> dict:
    """Move the delta's accounts: through the workspace's accounts_move on a planning scenario (so the move is
    on its undo log), else effective-dated here: close the current rows and open manual ones at one instant.

    TODO(territories.workspace.services): the workspace refuses scenarios that are not in planning; switch the
    active-scenario branch to an effective-dated move service once one exists.
    """
    workspace = _workspace() if use_workspace else None
    targets = {territory for _, territory in delta.opened}
    if workspace is not None and scenario.is_editable and len(targets) == 1 and delta.opened:
        try:
            edit = workspace.accounts_move(scenario_id=scenario.pk, version=None, territory_id=targets.pop(),
                                           account_ids=[account for account, _ in delta.opened], actor=user)
        except workspace.WorkspaceError as exc:
            raise ValidationError(exc.message) from exc
        ids = _record_reason(scenario=scenario, pairs=delta.opened, reason=reason, edit=edit)
        return {"assignments_opened": len(ids), "assignment_ids": ids, "scenario_edit_id": edit.pk}
    at = at or timezone.now()
    closed = AccountAssignment.objects.filter(
        pk__in=delta.closed_assignment_ids, scenario=scenario, valid_to__isnull=True
    ).update(valid_to=at)
    if closed != len(delta.closed_assignment_ids):
        raise ValidationError("This request must be refreshed: some assignments changed while it was applied.")
    created = AccountAssignment.objects.bulk_create(
        [AccountAssignment(scenario=scenario, account_id=account_id, territory_id=territory_id, valid_from=at,
                           source=AccountAssignment.Source.MANUAL, reason=reason)
         for account_id, territory_id in delta.opened]
    )
    return {"assignments_closed": closed, "assignments_opened": len(created),
            "assignment_ids": [row.pk for row in created]}


_REBUILD_BOUNDARY_SQL = """
UPDATE territories_territory t
SET boundary = (SELECT ST_Multi(ST_Union(g.geometry)) FROM territories_territoryunit tu
                JOIN territories_geounit g ON g.id = tu.unit_id WHERE tu.territory_id = t.id),
    version = t.version + 1, updated_at = now()
WHERE t.id = ANY(%s::bigint[]) AND t.built_from_units
"""


def units_reassign(*, scenario: Scenario, unit_ids: list[int], to: Territory, delta: AlignmentDelta, reason: str,
                   user=None) -> dict:
    """Move geo units (and the accounts placed by geography inside them) to a territory.

    On a planning scenario this is the workspace's units_move, so it is on the undo log; elsewhere the minimum
    is done here. TODO(territories.workspace.services): switch the active-scenario branch to an effective-dated
    unit-move service once one exists.
    """
    workspace = _workspace()
    if workspace is not None and scenario.is_editable:
        try:
            edit = workspace.units_move(scenario_id=scenario.pk, version=None, unit_ids=unit_ids, territory_id=to.pk,
                                        actor=user)
        except workspace.WorkspaceError as exc:
            raise ValidationError(exc.message) from exc
        ids = _record_reason(scenario=scenario, pairs=delta.opened, reason=reason, edit=edit)
        return {"units_moved": len(unit_ids), "assignment_ids": ids, "scenario_edit_id": edit.pk}
    from_ids = set(
        TerritoryUnit.objects.filter(scenario=scenario, unit_id__in=unit_ids).exclude(territory=to)
        .values_list("territory_id", flat=True)
    )
    moved = TerritoryUnit.objects.filter(scenario=scenario, unit_id__in=unit_ids).exclude(territory=to).update(
        territory=to)
    placed = set(TerritoryUnit.objects.filter(scenario=scenario, unit_id__in=unit_ids).values_list("unit_id",
                                                                                                   flat=True))
    TerritoryUnit.objects.bulk_create(
        [TerritoryUnit(scenario=scenario, territory=to, unit_id=pk) for pk in unit_ids if pk not in placed]
    )
    with connection.cursor() as cursor:
        cursor.execute(_REBUILD_BOUNDARY_SQL, [sorted(from_ids | {to.pk})])
    summary = accounts_reassign(scenario=scenario, delta=delta, reason=reason, use_workspace=False)
    return {"units_moved": moved, "units_placed": len(set(unit_ids) - placed), **summary}


def rule_change(*, rule_id: int, changes: dict, reason: str) -> dict:
    """Change a rule's fields with the request as the history's reason.

    TODO(territories.services): switch to the rule update service (assignment_rule_update) once it lands.
    """
    rule = AssignmentRule.objects.select_for_update().get(pk=rule_id)
    for name, value in changes.items():
        setattr(rule, name, value)
    rule.full_clean()
    rule._change_reason = reason
    rule.save()
    return {"rule_id": rule.pk}


def owner_reassign(*, territory_id: int, rep_id: int | None, valid_from: str | None, reason: str, user) -> dict:
    """Give a territory a new owner (or a vacancy) through the reps app's service."""
    from reps.models import Rep
    from reps.services import rep_assign

    territory = Territory.objects.get(pk=territory_id)
    rep = Rep.objects.get(pk=rep_id) if rep_id else None
    assignment = rep_assign(
        territory=territory, rep=rep, role="owner",
        valid_from=dt.date.fromisoformat(valid_from) if valid_from else None, note=reason, user=user,
    )
    update_change_reason(assignment, reason)
    return {"rep_assignment_id": assignment.pk}
