"""Write side of the map workspace: move units or accounts, redraw a boundary, lock, undo and redo.

Every edit runs in one transaction that locks the scenario row, checks the version the editor saw
(optimistic locking) and refuses scenarios that are not in planning. Each edit is recorded in ScenarioEdit
with the exact change and its inverse, so undo applies the inverse and redo applies the change again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.services.assignment_digests import assignment_digests_fold_if_grown
from territories.models import Scenario, ScenarioEdit, Territory
from territories.services import geometry_clean, scenario_ensure_editable, territory_boundary_rebuild


class WorkspaceError(Exception):
    """An edit the workspace refuses; `code` is stable for the API, the message is for the person."""

    code = "invalid"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ScenarioNotEditable(WorkspaceError):
    code = "scenario_not_editable"


class ScenarioVersionConflict(WorkspaceError):
    code = "stale_version"


class TerritoryLocked(WorkspaceError):
    code = "territory_locked"


class NothingToUndo(WorkspaceError):
    code = "nothing_to_undo"


def _scenario_for_edit(*, scenario_id: int, version: int | None) -> Scenario:
    """Lock the scenario row and check it may be edited at the version the editor has."""
    scenario = Scenario.objects.select_for_update().get(pk=scenario_id)
    try:
        scenario_ensure_editable(scenario=scenario)
    except ValidationError as exc:
        raise ScenarioNotEditable(exc.messages[0]) from exc
    if version is not None and int(version) != scenario.version:
        raise ScenarioVersionConflict(
            f"“{scenario.name}” was changed by someone else (you have version {version}, it is now at "
            f"version {scenario.version}). Reload the map to see their changes, then try again."
        )
    return scenario


def _territories_for_edit(*, scenario: Scenario, territory_ids: Iterable[int]) -> dict[int, Territory]:
    ids = {int(pk) for pk in territory_ids if pk is not None}
    territories = {t.pk: t for t in Territory.objects.select_for_update().filter(scenario=scenario, pk__in=ids)}
    missing = ids - territories.keys()
    if missing:
        raise WorkspaceError(f"Territory {sorted(missing)[0]} is not part of “{scenario.name}”.")
    locked = [t for t in territories.values() if t.is_locked]
    if locked:
        names = ", ".join(f"{t.code} {t.name}" for t in sorted(locked, key=lambda t: t.code))
        raise TerritoryLocked(f"{names} {'is' if len(locked) == 1 else 'are'} locked; unlock to change.")
    return territories


def _apply_unit_placements(*, scenario: Scenario, placements: list[list[int]]) -> set[int]:
    """Put each [unit id, territory id] in place; returns the territories whose units changed."""
    if not placements:
        return set()
    units = [p[0] for p in placements]
    targets = [p[1] for p in placements]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH moved AS (
                UPDATE territories_territoryunit tu SET territory_id = v.territory_id
                FROM (SELECT unnest(%s::bigint[]) AS unit_id, unnest(%s::bigint[]) AS territory_id) v,
                     territories_territoryunit old
                WHERE tu.scenario_id = %s AND tu.unit_id = v.unit_id AND old.id = tu.id
                  AND tu.territory_id <> v.territory_id
                RETURNING old.territory_id AS old_territory, v.territory_id AS new_territory
            )
            SELECT old_territory, new_territory FROM moved
            """,
            [units, targets, scenario.pk],
        )
        touched = {pk for row in cursor.fetchall() for pk in row}
    territory_boundary_rebuild(territory_ids=sorted(touched))  # also bumps their versions
    return touched


def _apply_account_placements(*, scenario: Scenario, moves: list[list[int]], reason: str, source: str) -> None:
    """For each [account id, from territory, to territory]: close the current assignment, open the new one."""
    if not moves:
        return
    now = timezone.now()
    accounts = [m[0] for m in moves]
    sources = [m[1] for m in moves]
    targets = [m[2] for m in moves]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE accounts_accountassignment asg
            SET valid_to = GREATEST(%s, asg.valid_from + interval '1 microsecond')
            FROM (SELECT unnest(%s::bigint[]) AS account_id, unnest(%s::bigint[]) AS territory_id) v
            WHERE asg.scenario_id = %s AND asg.valid_to IS NULL
              AND asg.account_id = v.account_id AND asg.territory_id = v.territory_id
            """,
            [now, accounts, sources, scenario.pk],
        )
        cursor.execute(
            """
            INSERT INTO accounts_accountassignment (scenario_id, account_id, territory_id, valid_from, source, reason)
            SELECT %s, v.account_id, v.territory_id, %s, %s, %s
            FROM (SELECT unnest(%s::bigint[]) AS account_id, unnest(%s::bigint[]) AS territory_id) v
            ON CONFLICT (scenario_id, account_id, territory_id) WHERE valid_to IS NULL DO NOTHING
            """,
            [scenario.pk, now, source, reason[:300], accounts, targets],
        )
        # Each move appends digest rows (accounts.services.assignment_digests); the scenario is locked here.
        assignment_digests_fold_if_grown(cursor, scenario_id=scenario.pk)


def _apply(*, scenario: Scenario, payload: dict, reason: str) -> tuple[set[int], set[int]]:
    """Apply a recorded change (a forward or an inverse); returns the territories it touched, and those of
    them whose boundary was rebuilt (the rebuild already bumped their version)."""
    touched, rebuilt = set(), set()
    if payload.get("units"):
        rebuilt = _apply_unit_placements(scenario=scenario, placements=payload["units"])
    if payload.get("accounts"):
        _apply_account_placements(scenario=scenario, moves=payload["accounts"], reason=reason,
                                  source=payload.get("account_source", "manual"))
        touched |= {pk for move in payload["accounts"] for pk in move[1:]}
    if payload.get("boundary_of"):
        geometry = payload.get("boundary")
        Territory.objects.filter(pk=payload["boundary_of"]).update(
            boundary=_multipolygon(geometry) if geometry else None, updated_at=timezone.now()
        )
        touched.add(payload["boundary_of"])
    return (touched | rebuilt) - {None}, rebuilt


def _multipolygon(geometry: dict):
    """A drawn polygon as a valid 4326 MultiPolygon, repaired by the shared geometry cleaner."""
    try:
        shape, _report = geometry_clean(geometry=geometry, repair=True)
    except ValidationError as exc:
        raise WorkspaceError(exc.messages[0]) from exc
    return shape


def _bump_versions(*, scenario: Scenario, territory_ids: Iterable[int]) -> None:
    Territory.objects.filter(pk__in=set(territory_ids)).update(version=F("version") + 1)
    Scenario.objects.filter(pk=scenario.pk).update(version=F("version") + 1, updated_at=timezone.now())
    scenario.refresh_from_db(fields=["version", "updated_at"])


def _record(*, scenario: Scenario, kind: str, forward: dict, inverse: dict, summary: str, territory_ids,
            actor) -> ScenarioEdit:
    """Log an edit; a new edit discards the edits that were undone (the redo branch)."""
    ScenarioEdit.objects.filter(scenario=scenario, is_undone=True).delete()
    last = ScenarioEdit.objects.filter(scenario=scenario).order_by("-sequence").values_list("sequence", flat=True)
    return ScenarioEdit.objects.create(
        scenario=scenario, sequence=(last.first() or 0) + 1, kind=kind, forward=forward, inverse=inverse,
        summary=summary[:300], territory_ids=sorted(set(territory_ids)), actor=actor,
    )


def _label(territory: Territory) -> str:
    return f"{territory.code} {territory.name}"


@transaction.atomic
def units_move(*, scenario_id: int, version: int | None, unit_ids: list[int], territory_id: int,
               actor=None) -> ScenarioEdit:
    """Move geo units to a territory: rebuild both boundaries and move the accounts that lie in the units.

    Accounts placed by a manual override stay where they are (named-account exceptions survive re-drawing).
    """
    scenario = _scenario_for_edit(scenario_id=scenario_id, version=version)
    unit_ids = sorted({int(pk) for pk in unit_ids})
    if not unit_ids:
        raise WorkspaceError("Select at least one geo unit to move.")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT unit_id, territory_id FROM territories_territoryunit WHERE scenario_id = %s AND unit_id = ANY(%s)",
            [scenario.pk, unit_ids],
        )
        current = dict(cursor.fetchall())
    if len(current) != len(unit_ids):
        raise WorkspaceError("Some of the selected units are not part of this scenario; reload the map.")
    moving = {unit: source for unit, source in current.items() if source != int(territory_id)}
    territories = _territories_for_edit(scenario=scenario, territory_ids={int(territory_id), *moving.values()})
    target = territories[int(territory_id)]
    if not moving:
        raise WorkspaceError(f"The selected units are already in {_label(target)}.")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT ON (asg.account_id) asg.account_id, asg.territory_id
            FROM (SELECT unnest(%s::bigint[]) AS unit_id, unnest(%s::bigint[]) AS territory_id) v
            JOIN territories_geounit u ON u.id = v.unit_id
            JOIN accounts_account a ON ST_Intersects(a.location, u.geometry)
            JOIN accounts_accountassignment asg ON asg.account_id = a.id AND asg.scenario_id = %s
                 AND asg.valid_to IS NULL AND asg.territory_id = v.territory_id AND asg.source <> 'override'
            ORDER BY asg.account_id
            """,
            [list(moving), list(moving.values()), scenario.pk],
        )
        accounts = cursor.fetchall()
    forward = {"units": [[unit, target.pk] for unit in sorted(moving)],
               "accounts": [[account, source, target.pk] for account, source in accounts],
               "account_source": "geography"}
    inverse = {"units": [[unit, moving[unit]] for unit in sorted(moving)],
               "accounts": [[account, target.pk, source] for account, source in accounts],
               "account_source": "geography"}
    summary = (f"{len(moving)} unit{'s' if len(moving) != 1 else ''} ({len(accounts)} accounts) "
               f"moved to {_label(target)}")
    touched, rebuilt = _apply(scenario=scenario, payload=forward,
                              reason=f"Geo unit moved on the map to {_label(target)}")
    _bump_versions(scenario=scenario, territory_ids=touched - rebuilt)
    _announce_moves(scenario=scenario, payload=forward, actor=actor, source="geography")
    return _record(scenario=scenario, kind=ScenarioEdit.Kind.MOVE_UNITS, forward=forward, inverse=inverse,
                   summary=summary, territory_ids=touched, actor=actor)


@transaction.atomic
def accounts_move(*, scenario_id: int, version: int | None, account_ids: list[int], territory_id: int,
                  actor=None) -> ScenarioEdit:
    """Move accounts to a territory: close each current assignment (valid_to = now) and open a manual one."""
    scenario = _scenario_for_edit(scenario_id=scenario_id, version=version)
    account_ids = sorted({int(pk) for pk in account_ids})
    if not account_ids:
        raise WorkspaceError("Select at least one account to move.")
    target_type = Territory.objects.filter(scenario=scenario, pk=territory_id).values_list(
        "territory_type_id", flat=True).first()
    with connection.cursor() as cursor:
        # An account may sit in territories of several types (geography and a product line, say): the move
        # replaces its assignment among territories of the target's type.
        cursor.execute(
            """
            SELECT DISTINCT ON (asg.account_id) asg.account_id, asg.territory_id
            FROM accounts_accountassignment asg JOIN territories_territory t ON t.id = asg.territory_id
            WHERE asg.scenario_id = %s AND asg.valid_to IS NULL AND asg.account_id = ANY(%s)
            ORDER BY asg.account_id, (t.territory_type_id IS NOT DISTINCT FROM %s) DESC, asg.valid_from DESC
            """,
            [scenario.pk, account_ids, target_type],
        )
        current = dict(cursor.fetchall())
    moves = [[account, current.get(account), int(territory_id)] for account in account_ids
             if current.get(account) != int(territory_id)]
    territories = _territories_for_edit(
        scenario=scenario, territory_ids={int(territory_id), *(m[1] for m in moves if m[1])})
    target = territories[int(territory_id)]
    if not moves:
        raise WorkspaceError(f"The selected accounts are already in {_label(target)}.")
    forward = {"accounts": moves, "account_source": "manual"}
    # An account that had no territory goes back to having none: the inverse only closes the new assignment.
    inverse = {"accounts": [[a, to, source] for a, source, to in moves if source is not None],
               "close": [[a, to] for a, source, to in moves if source is None], "account_source": "manual"}
    touched, _ = _apply(scenario=scenario, payload=forward, reason=f"Moved on the map to {_label(target)}")
    _bump_versions(scenario=scenario, territory_ids=touched)
    _announce_moves(scenario=scenario, payload=forward, actor=actor)
    return _record(scenario=scenario, kind=ScenarioEdit.Kind.MOVE_ACCOUNTS, forward=forward, inverse=inverse,
                   summary=f"{len(moves)} account{'s' if len(moves) != 1 else ''} moved to {_label(target)}",
                   territory_ids=touched, actor=actor)


@transaction.atomic
def territory_reshape(*, scenario_id: int, version: int | None, territory_id: int, geometry: dict,
                      actor=None) -> ScenarioEdit:
    """Replace a drawn territory's boundary with a new shape (territories built from units move units instead)."""
    scenario = _scenario_for_edit(scenario_id=scenario_id, version=version)
    territory = _territories_for_edit(scenario=scenario, territory_ids=[territory_id])[int(territory_id)]
    if territory.built_from_units:
        raise WorkspaceError(f"{_label(territory)} is built from geo units: move units to change its shape.")
    if not geometry or geometry.get("type") not in {"Polygon", "MultiPolygon"}:
        raise WorkspaceError("Draw a polygon for the boundary.")
    new_shape = _multipolygon(geometry)
    old = json.loads(territory.boundary.geojson) if territory.boundary else None
    forward = {"boundary_of": territory.pk, "boundary": json.loads(new_shape.geojson)}
    inverse = {"boundary_of": territory.pk, "boundary": old}
    touched, _ = _apply(scenario=scenario, payload=forward, reason="")
    _bump_versions(scenario=scenario, territory_ids=touched)
    return _record(scenario=scenario, kind=ScenarioEdit.Kind.RESHAPE, forward=forward, inverse=inverse,
                   summary=f"Boundary of {_label(territory)} redrawn", territory_ids=touched, actor=actor)


def _close_assignments(*, scenario: Scenario, pairs: list[list[int]]) -> None:
    if not pairs:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE accounts_accountassignment asg SET valid_to = GREATEST(%s, asg.valid_from + interval '1 microsecond')
            FROM (SELECT unnest(%s::bigint[]) AS account_id, unnest(%s::bigint[]) AS territory_id) v
            WHERE asg.scenario_id = %s AND asg.valid_to IS NULL
              AND asg.account_id = v.account_id AND asg.territory_id = v.territory_id
            """,
            [timezone.now(), [p[0] for p in pairs], [p[1] for p in pairs], scenario.pk],
        )


def _replay(*, scenario: Scenario, edit: ScenarioEdit, payload: dict, verb: str) -> set[int]:
    _territories_for_edit(scenario=scenario, territory_ids=edit.territory_ids)
    touched, rebuilt = _apply(scenario=scenario, payload=payload, reason=f"{verb}: {edit.summary}")
    _close_assignments(scenario=scenario, pairs=payload.get("close", []))
    touched |= {p[1] for p in payload.get("close", [])}
    _bump_versions(scenario=scenario, territory_ids=touched - rebuilt)
    _announce_moves(scenario=scenario, payload=payload, source=payload.get("account_source", "manual"))
    return touched


def _announce_moves(*, scenario: Scenario, payload: dict, actor=None, source: str = "manual") -> None:
    """One account.reassigned webhook (after commit) for the accounts a move, undo or redo put elsewhere."""
    from accounts.services.events import account_reassigned_emit

    moves = [tuple(move) for move in payload.get("accounts", [])]
    moves += [(account, territory, None) for account, territory in payload.get("close", [])]
    if moves:
        account_reassigned_emit(scenario_id=scenario.pk, source=source, moves=moves, actor=actor)


@transaction.atomic
def scenario_edit_undo(*, scenario_id: int, version: int | None, actor=None) -> ScenarioEdit:
    """Undo the latest edit that is not undone, by applying its inverse."""
    scenario = _scenario_for_edit(scenario_id=scenario_id, version=version)
    edit = ScenarioEdit.objects.filter(scenario=scenario, is_undone=False).order_by("-sequence").first()
    if edit is None:
        raise NothingToUndo("There is nothing to undo.")
    _replay(scenario=scenario, edit=edit, payload=edit.inverse, verb="Undo")
    edit.is_undone = True
    edit.save(update_fields=["is_undone"])
    return edit


@transaction.atomic
def scenario_edit_redo(*, scenario_id: int, version: int | None, actor=None) -> ScenarioEdit:
    """Redo the earliest undone edit, by applying it again."""
    scenario = _scenario_for_edit(scenario_id=scenario_id, version=version)
    edit = ScenarioEdit.objects.filter(scenario=scenario, is_undone=True).order_by("sequence").first()
    if edit is None:
        raise NothingToUndo("There is nothing to redo.")
    _replay(scenario=scenario, edit=edit, payload=edit.forward, verb="Redo")
    edit.is_undone = False
    edit.save(update_fields=["is_undone"])
    return edit


@transaction.atomic
def territory_lock_set(*, scenario_id: int, version: int | None, territory_id: int, is_locked: bool,
                       actor=None) -> Territory:
    """Lock a finished territory against edits (and the optimiser), or unlock it."""
    scenario = _scenario_for_edit(scenario_id=scenario_id, version=version)
    territory = Territory.objects.select_for_update().filter(scenario=scenario, pk=territory_id).first()
    if territory is None:
        raise WorkspaceError(f"Territory {territory_id} is not part of “{scenario.name}”.")
    territory.is_locked = bool(is_locked)
    territory.save(update_fields=["is_locked", "updated_at"])  # through save() so the history records who locked
    _bump_versions(scenario=scenario, territory_ids=[territory.pk])
    territory.refresh_from_db()
    return territory
