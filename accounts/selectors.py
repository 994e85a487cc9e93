"""Read-side queries about accounts and their effective-dated assignments."""

import datetime as dt

from django.db.models import Q, QuerySet

from accounts.models import Account, AccountAssignment


def assignments_at(*, scenario, at: dt.datetime | None = None) -> QuerySet[AccountAssignment]:
    """The assignments of a scenario in force at a moment (now when `at` is None)."""
    if at is None:
        return AccountAssignment.objects.filter(scenario=scenario, valid_to__isnull=True)
    return AccountAssignment.objects.filter(scenario=scenario, valid_from__lte=at).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=at)
    )


def accounts_in_territories(*, scenario, territory_ids: list[int], at: dt.datetime | None = None) -> QuerySet[Account]:
    account_ids = assignments_at(scenario=scenario, at=at).filter(territory_id__in=territory_ids).values("account_id")
    return Account.objects.filter(pk__in=account_ids)


def account_assignment_history(*, account: Account) -> QuerySet[AccountAssignment]:
    return account.assignments.select_related("territory", "scenario", "rule", "override", "run").order_by(
        "-valid_from"
    )
