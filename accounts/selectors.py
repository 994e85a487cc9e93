"""Read-side queries about accounts and their effective-dated assignments."""

import datetime as dt

from django.db import connection
from django.db.models import CharField, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from accounts.models import Account, AccountAssignment, AllocationRun


def assignments_at(*, scenario, at: dt.datetime | None = None) -> QuerySet[AccountAssignment]:
    """The assignments of a scenario in force at a moment (now when `at` is None)."""
    if at is None:
        return AccountAssignment.objects.filter(scenario=scenario, valid_to__isnull=True)
    return AccountAssignment.objects.filter(scenario=scenario, valid_from__lte=at).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=at)
    )


def account_ids_in_territories(*, scenario, territory_ids: list[int], at: dt.datetime | None = None) -> QuerySet:
    """The ids of the accounts of the territories (a values queryset, for a subquery)."""
    return assignments_at(scenario=scenario, at=at).filter(territory_id__in=territory_ids).values("account_id")


def accounts_in_territories(*, scenario, territory_ids: list[int], at: dt.datetime | None = None) -> QuerySet[Account]:
    return Account.objects.filter(
        pk__in=account_ids_in_territories(scenario=scenario, territory_ids=territory_ids, at=at)
    )


def account_assignment_history(*, account: Account) -> QuerySet[AccountAssignment]:
    return account.assignments.select_related("territory", "scenario", "rule", "override", "run").order_by(
        "-valid_from"
    )


def _owner_subquery(at_date: dt.date, field: str):
    from reps.models import RepAssignment

    return Subquery(
        RepAssignment.objects.filter(territory_id=OuterRef("territory_id"), role="owner", valid_from__lte=at_date)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at_date))
        .order_by("-valid_from", "-pk").values(field)[:1]
    )


def alignment_at(*, at: dt.datetime | None = None, scenario=None) -> QuerySet[AccountAssignment]:
    """The whole alignment at a moment: every account's assignment in the scenario then in force, with the
    territory's owner rep then (owner_rep_id, owner_rep_name). One query, paginable."""
    from territories.selectors import scenario_active, scenario_active_at

    if scenario is None:
        scenario = scenario_active_at(at=at) if at is not None else scenario_active()
    if scenario is None:
        return AccountAssignment.objects.none()
    at_date = timezone.localdate(at) if at is not None else timezone.localdate()
    return (
        assignments_at(scenario=scenario, at=at)
        .select_related("account", "territory", "rule", "override", "scenario")
        .annotate(owner_rep_id=_owner_subquery(at_date, "rep_id"),
                  owner_rep_name=_owner_subquery(at_date, "rep__name"))
        .order_by("account__name", "account_id")
    )


def account_owner_at(*, account: Account, at: dt.datetime | None = None, scenario=None) -> dict:
    """Who owned an account at a moment: the scenario then in force, the territory, the owner rep and why."""
    from accounts.services.allocation import allocation_reason

    assignment = (
        alignment_at(at=at, scenario=scenario).filter(account=account)
        .order_by("-territory__depth", "-valid_from").first()
    )
    if assignment is None:
        return {"at": at, "scenario": None, "territory": None, "rep": None, "assignment": None, "reason": ""}
    return {
        "at": at, "scenario": assignment.scenario, "territory": assignment.territory,
        "rep": {"id": assignment.owner_rep_id, "name": assignment.owner_rep_name} if assignment.owner_rep_id else None,
        "assignment": assignment, "reason": allocation_reason(assignment),
    }


def account_list(*, user) -> QuerySet[Account]:
    """The accounts a user may see: all for managers and admins; for a rep, those assigned (now, in the active
    scenario) to the territories their rep covers today."""
    from reps.selectors import territory_ids_for_user, user_is_manager
    from territories.selectors import scenario_active

    queryset = Account.objects.all()
    if user_is_manager(user):
        return queryset
    territory_ids = territory_ids_for_user(user=user)
    active = scenario_active()
    if not territory_ids or active is None:
        return queryset.none()
    return queryset.filter(
        pk__in=AccountAssignment.objects.filter(
            scenario=active, valid_to__isnull=True, territory_id__in=territory_ids
        ).values("account_id")
    )


def account_list_with_alignment(*, user, scenario=None) -> QuerySet[Account]:
    """Accounts annotated with their current territory, owner rep and assignment source in a scenario
    (the active one by default); one query for lists and exports."""
    from territories.selectors import scenario_active

    scenario = scenario or scenario_active()
    queryset = account_list(user=user)
    if scenario is None:
        return queryset
    current = AccountAssignment.objects.filter(account_id=OuterRef("pk"), scenario=scenario, valid_to__isnull=True)
    current = current.order_by("-territory__depth", "-valid_from")
    today = timezone.localdate()
    from reps.models import RepAssignment

    owner = (
        RepAssignment.objects.filter(territory_id=OuterRef("current_territory_id"), role="owner",
                                     valid_from__lte=today)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=today)).order_by("-valid_from", "-pk")
    )
    return queryset.annotate(
        current_territory_id=Subquery(current.values("territory_id")[:1]),
        current_territory_code=Subquery(current.values("territory__code")[:1], output_field=CharField()),
        current_territory_name=Subquery(current.values("territory__name")[:1], output_field=CharField()),
        current_source=Subquery(current.values("source")[:1], output_field=CharField()),
        current_rule_name=Subquery(current.values("rule__name")[:1], output_field=CharField()),
        current_reason=Subquery(current.values("reason")[:1], output_field=CharField()),
    ).annotate(
        owner_rep_id=Subquery(owner.values("rep_id")[:1]),
        owner_rep_name=Subquery(owner.values("rep__name")[:1], output_field=CharField()),
    )


ALIGNMENT_ATTRIBUTES = ("current_territory_id", "current_territory_code", "current_territory_name", "current_source",
                        "current_rule_name", "current_reason", "owner_rep_id", "owner_rep_name")


def account_alignment_attach(*, accounts: list[Account], scenario=None) -> list[Account]:
    """Set on accounts already fetched the attributes account_list_with_alignment annotates (ALIGNMENT_ATTRIBUTES).

    For one account or a page: one query of lateral joins, planned in about a millisecond, where the
    annotated queryset's eight correlated subqueries take PostgreSQL 10-20 ms to plan.
    """
    from territories.selectors import scenario_active

    scenario = scenario or scenario_active()
    found: dict[int, tuple] = {}
    if scenario is not None and accounts:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT a.id, cur.territory_id, t.code, t.name, cur.source, rule.name, cur.reason, own.rep_id, rep.name
                FROM unnest(%(ids)s::bigint[]) AS a(id)
                JOIN LATERAL (
                    SELECT x.territory_id, x.source, x.rule_id, x.reason
                    FROM accounts_accountassignment x JOIN territories_territory tt ON tt.id = x.territory_id
                    WHERE x.account_id = a.id AND x.scenario_id = %(scenario)s AND x.valid_to IS NULL
                    ORDER BY tt.depth DESC, x.valid_from DESC LIMIT 1
                ) cur ON true
                JOIN territories_territory t ON t.id = cur.territory_id
                LEFT JOIN territories_assignmentrule rule ON rule.id = cur.rule_id
                LEFT JOIN LATERAL (
                    SELECT ra.rep_id FROM reps_repassignment ra
                    WHERE ra.territory_id = cur.territory_id AND ra.role = 'owner' AND ra.valid_from <= %(today)s
                      AND (ra.valid_to IS NULL OR ra.valid_to > %(today)s)
                    ORDER BY ra.valid_from DESC, ra.id DESC LIMIT 1
                ) own ON true
                LEFT JOIN reps_rep rep ON rep.id = own.rep_id
                """,
                {"ids": [account.pk for account in accounts], "scenario": scenario.pk, "today": timezone.localdate()},
            )
            found = {row[0]: row[1:] for row in cursor.fetchall()}
    empty = (None,) * len(ALIGNMENT_ATTRIBUTES)
    for account in accounts:
        for name, value in zip(ALIGNMENT_ATTRIBUTES, found.get(account.pk, empty), strict=True):
            setattr(account, name, value)
    return accounts


def allocation_run_list(*, scenario=None) -> QuerySet[AllocationRun]:
    queryset = AllocationRun.objects.select_related("scenario", "job", "created_by")
    return queryset.filter(scenario=scenario) if scenario is not None else queryset
