"""Read-side queries about reps, teams, their territories and who may see what.

Scope rules, in one place for pages, API, exports and admin:
- an admin sees everything;
- a sales manager sees the reps of the teams they manage (and their own rep profile, if any), and the part
  of the hierarchy those reps cover: every territory one of them covers today, or that one of them owned
  last and is now vacant, with its whole subtree;
- a sales rep sees their own profile and the subtree of the territories they cover today.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.roles import ADMIN, SALES_MANAGER, user_group_names
from reps.models import Rep, RepAssignment, Team, VisitCadence
from territories.models import Territory


def user_is_admin(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or ADMIN in user_group_names(user)))


def user_is_manager(user) -> bool:
    """A sales manager or an admin: someone who runs teams rather than a book of accounts."""
    return bool(
        user and user.is_authenticated and (user_is_admin(user) or SALES_MANAGER in user_group_names(user))
    )


def rep_for_user(*, user) -> Rep | None:
    if not user or not user.is_authenticated:
        return None
    return Rep.objects.filter(user=user).first()


def rep_list(*, user) -> QuerySet[Rep]:
    """The reps a user may see."""
    queryset = Rep.objects.select_related("team", "user")
    if user_is_admin(user):
        return queryset
    if user_is_manager(user):
        return queryset.filter(Q(team__manager=user) | Q(user=user))
    if user and user.is_authenticated:
        return queryset.filter(user=user)
    return queryset.none()


def rep_editable_list(*, user) -> QuerySet[Rep]:
    """The reps a user may change: all for an admin, those of their teams for a manager, none for a rep."""
    if user_is_admin(user):
        return Rep.objects.select_related("team", "user")
    if user_is_manager(user):
        return Rep.objects.select_related("team", "user").filter(team__manager=user)
    return Rep.objects.none()


def team_list(*, user) -> QuerySet[Team]:
    if user_is_admin(user):
        return Team.objects.select_related("manager")
    if user_is_manager(user):
        return Team.objects.select_related("manager").filter(manager=user)
    if user and user.is_authenticated:
        return Team.objects.select_related("manager").filter(reps__user=user)
    return Team.objects.none()


_SUBTREE_SQL = """
WITH RECURSIVE scoped_rep AS (
    SELECT id FROM {rep} WHERE id = ANY(%(rep_ids)s::bigint[]) OR user_id = %(user_id)s
), seed AS (
    SELECT ra.territory_id FROM {assignment} ra
    WHERE ra.rep_id IN (SELECT id FROM scoped_rep)
      AND ra.valid_from <= %(at)s AND (ra.valid_to IS NULL OR ra.valid_to > %(at)s)
    UNION
    -- a vacancy stays in the part of the hierarchy of the rep who owned it last
    SELECT vacancy.territory_id FROM {assignment} vacancy
    JOIN LATERAL (
        SELECT previous.rep_id FROM {assignment} previous
        WHERE previous.territory_id = vacancy.territory_id AND previous.role = 'owner'
          AND previous.rep_id IS NOT NULL AND previous.valid_from <= vacancy.valid_from
        ORDER BY previous.valid_from DESC, previous.id DESC LIMIT 1
    ) last_owner ON TRUE
    WHERE %(with_vacancies)s AND vacancy.rep_id IS NULL AND vacancy.role = 'owner'
      AND vacancy.valid_from <= %(at)s AND (vacancy.valid_to IS NULL OR vacancy.valid_to > %(at)s)
      AND last_owner.rep_id IN (SELECT id FROM scoped_rep)
), subtree(id) AS (
    SELECT territory_id FROM seed
    UNION
    SELECT child.id FROM {territory} child JOIN subtree ON child.parent_id = subtree.id
)
SELECT id FROM subtree
"""


def territory_ids_covered_by_reps(
    *, rep_ids: list[int], at: dt.date | None = None, with_vacancies: bool = False
) -> set[int]:
    """Ids of the territories the reps cover on a date, with their subtrees, in one recursive query."""
    if not rep_ids:
        return set()
    return _territory_ids_covered(rep_ids=list(rep_ids), user_id=None, at=at, with_vacancies=with_vacancies)


def _territory_ids_covered(*, rep_ids: list[int], user_id: int | None, at, with_vacancies: bool) -> set[int]:
    """The subtree query for the given reps and the rep profile of user_id (when given)."""
    sql = _SUBTREE_SQL.format(
        rep=Rep._meta.db_table, assignment=RepAssignment._meta.db_table, territory=Territory._meta.db_table
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"rep_ids": rep_ids, "user_id": user_id, "at": at or timezone.localdate(),
                             "with_vacancies": with_vacancies})
        return {row[0] for row in cursor.fetchall()}


def territory_ids_for_user(*, user, at: dt.date | None = None) -> set[int] | None:
    """The territories a user may see, or None when they may see all of them (admins)."""
    if user_is_admin(user):
        return None
    if user_is_manager(user):
        rep_ids = list(rep_list(user=user).values_list("pk", flat=True))
        return territory_ids_covered_by_reps(rep_ids=rep_ids, at=at, with_vacancies=True)
    if not user or not user.is_authenticated:
        return set()
    # A rep: their profile is looked up by the subtree query itself (most API requests are reps'; one round trip).
    return _territory_ids_covered(rep_ids=[], user_id=user.pk, at=at, with_vacancies=False)


def territory_list_for_user(*, user, scenario=None) -> QuerySet[Territory]:
    queryset = Territory.objects.select_related("scenario")
    if scenario is not None:
        queryset = queryset.filter(scenario=scenario)
    ids = territory_ids_for_user(user=user)
    return queryset if ids is None else queryset.filter(pk__in=ids)


def rep_assignment_list(*, user, at: dt.date | None = None, current_only: bool = False) -> QuerySet[RepAssignment]:
    """Rep assignments (history included unless current_only) within the user's scope."""
    queryset = RepAssignment.objects.select_related("rep", "territory", "territory__scenario")
    if current_only:
        queryset = queryset.filter(rep_assignments_in_force(at=at))
    if user_is_admin(user):
        return queryset
    territory_ids = territory_ids_for_user(user=user, at=at) or set()
    rep_ids = list(rep_list(user=user).values_list("pk", flat=True))
    return queryset.filter(Q(territory_id__in=territory_ids) | Q(rep_id__in=rep_ids))


def rep_assignments_in_force(*, at: dt.date | None = None) -> Q:
    at = at or timezone.localdate()
    return Q(valid_from__lte=at) & (Q(valid_to__isnull=True) | Q(valid_to__gt=at))


def rep_assignment_history(*, territory: Territory) -> QuerySet[RepAssignment]:
    return territory.rep_assignments.select_related("rep").order_by("-valid_from", "-pk")


def territory_owner(*, territory: Territory, at: dt.date | None = None) -> Rep | None:
    assignment = (
        RepAssignment.objects.filter(rep_assignments_in_force(at=at), territory=territory, role="owner")
        .select_related("rep")
        .order_by("-valid_from", "-pk")
        .first()
    )
    return assignment.rep if assignment else None


@dataclass(frozen=True)
class Vacancy:
    """A leaf territory without an owner on a date, since when, and who owned it last."""

    territory: Territory
    since: dt.date | None
    previous_rep: Rep | None


def territory_vacancy_list(*, scenario, at: dt.date | None = None, territory_ids: set[int] | None = None) -> list[
    Vacancy
]:
    """Leaf territories of a scenario with no owner in force: an explicit vacancy row, or never staffed."""
    at = at or timezone.localdate()
    leaves = Territory.objects.filter(scenario=scenario, children__isnull=True).order_by("code")
    if territory_ids is not None:
        leaves = leaves.filter(pk__in=territory_ids)
    owned = RepAssignment.objects.filter(
        rep_assignments_in_force(at=at), role="owner", rep__isnull=False, territory__scenario=scenario
    ).values("territory_id")
    vacant = list(leaves.exclude(pk__in=owned))
    rows = RepAssignment.objects.filter(territory__in=vacant, role="owner").select_related("rep").order_by(
        "territory_id", "-valid_from", "-pk"
    )
    history: dict[int, list[RepAssignment]] = {}
    for row in rows:
        history.setdefault(row.territory_id, []).append(row)
    result = []
    for territory in vacant:
        rows_for_territory = history.get(territory.pk, [])
        current = next((r for r in rows_for_territory if r.rep_id is None and r.valid_from <= at), None)
        previous = next((r.rep for r in rows_for_territory if r.rep_id is not None and r.valid_from <= at), None)
        result.append(Vacancy(territory=territory, since=current.valid_from if current else None,
                              previous_rep=previous))
    return result


def visit_cadence_list() -> QuerySet[VisitCadence]:
    return VisitCadence.objects.all()


def rep_assignments_current_for_rep(*, rep: Rep, at: dt.date | None = None) -> QuerySet[RepAssignment]:
    return rep.assignments.filter(rep_assignments_in_force(at=at)).select_related("territory", "territory__scenario")


def territory_ids_staffable(*, user, scenario) -> list[int]:
    """Leaf territories of a scenario a user may staff: all for an admin; for a manager, those in their part of
    the hierarchy and those no other manager's rep has ever held (a new planning scenario's territories)."""
    leaves = Territory.objects.filter(scenario=scenario, children__isnull=True)
    if user_is_admin(user):
        return list(leaves.values_list("pk", flat=True))
    if not user_is_manager(user):
        return []
    scope = territory_ids_for_user(user=user) or set()
    held_by_others = RepAssignment.objects.filter(territory__scenario=scenario, rep__isnull=False).exclude(
        rep__in=rep_list(user=user)
    ).values("territory_id")
    return list(leaves.filter(Q(pk__in=scope) | ~Q(pk__in=held_by_others)).values_list("pk", flat=True))
