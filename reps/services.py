"""Write-side actions on reps, teams, rep assignments, cadences and logged activities."""

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from performance.models import Activity
from performance.services.kpis import kpi_refresh_after_activity
from reps.models import Rep, RepAssignment, Team, VisitCadence
from reps.selectors import (
    rep_editable_list,
    rep_for_user,
    rep_list,
    team_list,
    territory_ids_for_user,
    user_is_admin,
    user_is_manager,
)
from territories.models import Territory

REP_EDITABLE_FIELDS = {
    "name", "email", "team", "role", "home_location", "home_city", "industries", "products", "seniority",
    "capacity_hours", "is_active", "start_date", "end_date", "user",
}


def _require_rep_editable(*, user, rep: Rep) -> None:
    if user is not None and not rep_editable_list(user=user).filter(pk=rep.pk).exists():
        raise PermissionDenied("You can only change reps of the teams you manage.")


def _require_team_allowed(*, user, team: Team | None) -> None:
    if (user is not None and team is not None and not user_is_admin(user)
            and not team_list(user=user).filter(pk=team.pk, manager=user).exists()):
        raise PermissionDenied("You can only place reps in teams you manage.")


@transaction.atomic
def rep_create(*, user=None, name: str, **fields) -> Rep:
    """Create a rep profile; a manager may only create reps in a team they manage."""
    unknown = set(fields) - REP_EDITABLE_FIELDS
    if unknown:
        raise ValidationError(f"Unknown rep fields: {', '.join(sorted(unknown))}")
    if user is not None and not user_is_manager(user):
        raise PermissionDenied("Only managers create reps.")
    team = fields.get("team")
    if user is not None and not user_is_admin(user) and team is None:
        raise ValidationError({"team": "Choose one of your teams."})
    _require_team_allowed(user=user, team=team)
    rep = Rep(name=name, **fields)
    rep.full_clean()
    rep.save()
    return rep


@transaction.atomic
def rep_update(*, user=None, rep: Rep, **fields) -> Rep:
    unknown = set(fields) - REP_EDITABLE_FIELDS
    if unknown:
        raise ValidationError(f"Unknown rep fields: {', '.join(sorted(unknown))}")
    _require_rep_editable(user=user, rep=rep)
    if "team" in fields:
        _require_team_allowed(user=user, team=fields["team"])
    for name, value in fields.items():
        setattr(rep, name, value)
    rep.full_clean()
    rep.save()
    return rep


@transaction.atomic
def team_create(*, user=None, name: str, manager=None) -> Team:
    if user is not None and not user_is_admin(user):
        if not user_is_manager(user):
            raise PermissionDenied("Only managers create teams.")
        manager = user  # a manager's new team is their own
    team = Team(name=name, manager=manager)
    team.full_clean()
    team.save()
    return team


@transaction.atomic
def team_update(*, user=None, team: Team, name: str | None = None, manager=...) -> Team:
    if user is not None and not user_is_admin(user):
        if team.manager_id != user.pk:
            raise PermissionDenied("You can only change teams you manage.")
        if manager is not ... and manager != user:
            raise PermissionDenied("Only an admin hands a team to another manager.")
    if name is not None:
        team.name = name
    if manager is not ...:
        team.manager = manager
    team.full_clean()
    team.save()
    return team


def _require_territory_in_scope(*, user, territory: Territory) -> None:
    if user is None or user_is_admin(user):
        return
    if not user_is_manager(user):
        raise PermissionDenied("Only managers assign reps.")
    scope = territory_ids_for_user(user=user) or set()
    if territory.pk in scope:
        return
    # An unstaffed territory (never owned, or vacant with nobody of another manager last in it) may be claimed.
    others = RepAssignment.objects.filter(territory=territory, rep__isnull=False).exclude(
        rep__in=rep_list(user=user)
    )
    if others.exists():
        raise PermissionDenied("This territory belongs to another manager's part of the hierarchy.")


@transaction.atomic
def rep_assign(
    *, territory: Territory, rep: Rep | None, role: str = RepAssignment.Role.OWNER,
    valid_from: dt.date | None = None, note: str = "", user=None,
) -> RepAssignment:
    """Put a rep (or a vacancy, rep=None) on a territory from a date; the previous owner's row is closed, not deleted.

    For the owner role there is one row in force at a time: the open one is closed the day the new one starts.
    Overlays and specialists are added beside the owner; assigning the same rep again is a no-op.
    """
    valid_from = valid_from or timezone.localdate()
    if role not in RepAssignment.Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    if rep is None and role != RepAssignment.Role.OWNER:
        raise ValidationError({"rep": "Only the owner role can be vacant."})
    _require_territory_in_scope(user=user, territory=territory)
    if (rep is not None and user is not None and not user_is_admin(user)
            and not rep_editable_list(user=user).filter(pk=rep.pk).exists()):
        raise PermissionDenied("You can only assign reps of the teams you manage.")
    if rep is not None and not rep.is_active:
        raise ValidationError({"rep": "This rep is not active."})
    # Lock the territory's open rows so two managers cannot both close the same assignment.
    open_rows = list(
        RepAssignment.objects.select_for_update().filter(territory=territory, role=role, valid_to__isnull=True)
    )
    if role == RepAssignment.Role.OWNER:
        for row in open_rows:
            if row.rep_id == (rep.pk if rep else None) and row.valid_from <= valid_from:
                return row  # already the owner (or already vacant)
            if row.valid_from > valid_from:
                raise ValidationError(
                    {"valid_from": f"The current assignment starts on {row.valid_from}; start on or after it."}
                )
        for row in open_rows:
            row.valid_to = valid_from
            row.save(update_fields=["valid_to"])
    else:
        same = next((row for row in open_rows if row.rep_id == rep.pk), None)
        if same is not None:
            return same
    assignment = RepAssignment(territory=territory, rep=rep, role=role, valid_from=valid_from, note=note[:300])
    assignment.full_clean()
    assignment.save()
    return assignment


@transaction.atomic
def rep_assignment_end(*, assignment: RepAssignment, valid_to: dt.date | None = None, user=None) -> RepAssignment:
    """End an overlay or specialist assignment; owners are replaced (or made vacant) with rep_assign instead."""
    if assignment.role == RepAssignment.Role.OWNER:
        raise ValidationError("An owner is replaced with rep_assign (a rep or a vacancy), not ended.")
    _require_territory_in_scope(user=user, territory=assignment.territory)
    valid_to = valid_to or timezone.localdate()
    if valid_to < assignment.valid_from:
        raise ValidationError({"valid_to": "The end is before the start."})
    if assignment.valid_to is None:
        assignment.valid_to = valid_to
        assignment.save(update_fields=["valid_to"])
    return assignment


@transaction.atomic
def match_accept(
    *, pairs: Iterable[tuple[int, int | None]], valid_from: dt.date | None = None, user=None,
    note: str = "Accepted from the match proposal",
) -> list[RepAssignment]:
    """Create owner assignments for the accepted (territory id, rep id or None) pairs, all or none."""
    pairs = list(pairs)
    territory_ids = [territory_id for territory_id, _ in pairs]
    rep_ids = [rep_id for _, rep_id in pairs if rep_id is not None]
    if len(set(territory_ids)) != len(territory_ids):
        raise ValidationError("A territory appears twice in the accepted proposals.")
    if len(set(rep_ids)) != len(rep_ids):
        raise ValidationError("A rep appears twice in the accepted proposals.")
    territories = Territory.objects.in_bulk(territory_ids)
    reps = Rep.objects.in_bulk(rep_ids)
    missing = [pk for pk in territory_ids if pk not in territories] + [pk for pk in rep_ids if pk not in reps]
    if missing:
        raise ValidationError(f"Unknown territory or rep ids: {missing}")
    return [
        rep_assign(territory=territories[territory_id], rep=reps.get(rep_id) if rep_id else None,
                   role=RepAssignment.Role.OWNER, valid_from=valid_from, note=note, user=user)
        for territory_id, rep_id in pairs
    ]


@transaction.atomic
def visit_cadence_set(*, tier: str, visits_per_year: int, minutes_per_visit: int | None = None,
                      user=None) -> VisitCadence:
    """Create or change the cadence of a tier (managers and admins)."""
    if user is not None and not user_is_manager(user):
        raise PermissionDenied("Only managers change visit cadences.")
    cadence, _ = VisitCadence.objects.select_for_update().get_or_create(
        tier=tier, defaults={"visits_per_year": visits_per_year, "minutes_per_visit": minutes_per_visit or 60}
    )
    cadence.visits_per_year = visits_per_year
    if minutes_per_visit is not None:
        cadence.minutes_per_visit = minutes_per_visit
    cadence.full_clean()
    cadence.save()
    return cadence


def _activity_notes(*, notes: str, outcome: str) -> str:
    # Activity has no outcome column yet; until it has, the outcome leads the notes on a line of its own.
    notes = (notes or "").strip()
    return f"Outcome: {outcome.strip()}\n{notes}".strip() if outcome and outcome.strip() else notes


def _require_activity_allowed(*, user, account: Account, rep: Rep | None) -> Rep | None:
    from reps.coverage import account_list_for_user  # the book selector lives with coverage

    if user is None:
        return rep
    if not account_list_for_user(user=user).filter(pk=account.pk).exists():
        raise PermissionDenied("This account is not in your book.")
    if user_is_manager(user):
        if rep is not None and not user_is_admin(user) and not rep_list(user=user).filter(pk=rep.pk).exists():
            raise PermissionDenied("You can only log activities for your own reps.")
        return rep
    own = rep_for_user(user=user)
    if own is None:
        raise PermissionDenied("Only reps log activities.")
    return own  # a rep always logs as themselves


@transaction.atomic
def activity_log(
    *, account: Account, kind: str, occurred_at: dt.datetime | None = None, duration_minutes: int = 30,
    notes: str = "", outcome: str = "", rep: Rep | None = None, user=None, refresh_kpis: bool = True,
) -> Activity:
    """Record a visit, call, email or meeting; it counts in coverage as soon as it is committed."""
    rep = _require_activity_allowed(user=user, account=account, rep=rep)
    occurred_at = occurred_at or timezone.now()
    if timezone.is_naive(occurred_at):
        raise ValidationError({"occurred_at": "A time zone is required."})
    if occurred_at > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError({"occurred_at": "An activity cannot be logged in the future."})
    activity = Activity(account=account, rep=rep, kind=kind, occurred_at=occurred_at,
                        duration_minutes=duration_minutes, notes=_activity_notes(notes=notes, outcome=outcome))
    activity.full_clean()
    activity.save()
    if refresh_kpis:  # bulk callers pass False and queue one refresh for the whole batch
        kpi_refresh_after_activity(activity)  # queued after commit: the KPI snapshots catch up within seconds
    return activity


@transaction.atomic
def activity_update(*, activity: Activity, user=None, **fields) -> Activity:
    allowed = {"kind", "occurred_at", "duration_minutes", "notes"}
    unknown = set(fields) - allowed - {"outcome"}
    if unknown:
        raise ValidationError(f"Unknown activity fields: {', '.join(sorted(unknown))}")
    _require_activity_allowed(user=user, account=activity.account, rep=activity.rep)
    if user is not None and not user_is_manager(user) and activity.rep_id != getattr(rep_for_user(user=user),
                                                                                   "pk", None):
        raise PermissionDenied("You can only change your own activities.")
    outcome = fields.pop("outcome", "")
    for name, value in fields.items():
        setattr(activity, name, value)
    if outcome:
        activity.notes = _activity_notes(notes=activity.notes, outcome=outcome)
    activity.full_clean()
    activity.save()
    kpi_refresh_after_activity(activity)
    return activity
