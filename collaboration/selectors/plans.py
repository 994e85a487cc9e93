"""Read side of territory sales plans: who sees and approves them, and the KPIs a review compares against."""

import datetime as dt
from decimal import Decimal

from django.db.models import Count, Min, Q, QuerySet, Sum

from accounts.selectors import accounts_in_territories
from collaboration.models import SalesPlan
from collaboration.selectors.scope import user_is_above, user_is_admin, user_territory_scope
from performance.models import Activity, KpiSnapshot, Opportunity
from performance.periods import Period
from territories.selectors import territory_descendant_ids

APPROVE_PERMISSION = "collaboration.approve_salesplan"
# Plan goal metric -> the KPI snapshot measure it is compared with.
KPI_FOR_METRIC = {"revenue": "revenue_won", "pipeline": "pipeline_created", "visits": "visits",
                  "new_accounts": "new_accounts"}


def sales_plan_list(*, user) -> QuerySet[SalesPlan]:
    """Plans of the territories in the user's scope, and the plans they wrote."""
    queryset = SalesPlan.objects.select_related("territory", "territory__scenario", "author", "approved_by")
    if not (user and user.is_authenticated):
        return queryset.none()
    scope = user_territory_scope(user=user)
    if scope is None:
        return queryset
    return queryset.filter(Q(territory_id__in=scope) | Q(author=user))


def sales_plan_can_edit(*, user, plan: SalesPlan) -> bool:
    """The author and the managers above the territory edit a plan while it is a draft."""
    if plan.status != SalesPlan.Status.DRAFT:
        return False
    return plan.author_id == user.pk or sales_plan_can_approve(user=user, plan=plan, any_status=True)


def sales_plan_can_approve(*, user, plan: SalesPlan, any_status: bool = False) -> bool:
    if not any_status and plan.status != SalesPlan.Status.SUBMITTED:
        return False
    if plan.author_id == user.pk and not user_is_admin(user):
        return False
    return user_is_above(user=user, territory_ids=[plan.territory_id], permission=APPROVE_PERMISSION)


def sales_plan_actuals(*, plan: SalesPlan) -> tuple[str, dict[str, Decimal]]:
    """What the territory achieved in the plan's period: the KPI snapshot if one exists, else computed.

    The computed figures use the accounts of the territory's subtree in force on the period's last day:
    revenue from opportunities won, pipeline from opportunities created, visits logged, and new accounts
    (accounts whose first won opportunity closed in the period).
    """
    snapshot = KpiSnapshot.objects.filter(
        scope=KpiSnapshot.Scope.TERRITORY, territory=plan.territory, period_start=plan.period_start,
        period_end=plan.period_end,
    ).first()
    if snapshot is not None:
        return "kpi_snapshot", {
            metric: Decimal(str(snapshot.metrics.get(measure) or 0)) for metric, measure in KPI_FOR_METRIC.items()
        }
    period = Period(start=plan.period_start, end=plan.period_end)
    accounts = accounts_in_territories(
        scenario=plan.territory.scenario, territory_ids=territory_descendant_ids(territory=plan.territory),
        at=period.end_at - dt.timedelta(microseconds=1),
    ).values("pk")
    in_period = Q(close_date__gte=plan.period_start, close_date__lte=plan.period_end)
    opportunities = Opportunity.objects.filter(account__in=accounts)
    revenue = opportunities.filter(in_period, stage=Opportunity.Stage.WON).aggregate(total=Sum("amount"))["total"]
    pipeline = opportunities.filter(created_date__gte=plan.period_start, created_date__lte=plan.period_end).aggregate(
        total=Sum("amount"))["total"]
    visits = Activity.objects.filter(account__in=accounts, kind=Activity.Kind.VISIT, occurred_at__gte=period.start_at,
                                     occurred_at__lt=period.end_at).count()
    new_accounts = (
        opportunities.filter(stage=Opportunity.Stage.WON).values("account_id").annotate(first=Min("close_date"))
        .filter(first__gte=plan.period_start, first__lte=plan.period_end).aggregate(count=Count("account_id"))["count"]
    )
    return "opportunities", {
        "revenue": revenue or Decimal("0"), "pipeline": pipeline or Decimal("0"), "visits": Decimal(visits),
        "new_accounts": Decimal(new_accounts or 0),
    }


def sales_plan_review_compute(*, plan: SalesPlan) -> dict:
    """Each goal against what was achieved, the key accounts' won revenue, and the actions done."""
    source, actuals = sales_plan_actuals(plan=plan)
    goals = []
    for goal in plan.goals.all():
        actual = actuals.get(goal.metric, Decimal("0"))
        attainment = round(float(actual / goal.target * 100), 1) if goal.target else None
        goals.append({"id": goal.pk, "metric": goal.metric, "description": goal.description,
                      "target": float(goal.target), "actual": float(actual), "attainment_pct": attainment,
                      "met": bool(goal.target and actual >= goal.target)})
    won_by_account = dict(
        Opportunity.objects.filter(account__in=plan.key_accounts.all(), stage=Opportunity.Stage.WON,
                                   close_date__gte=plan.period_start, close_date__lte=plan.period_end)
        .values("account_id").annotate(total=Sum("amount")).values_list("account_id", "total")
    )
    key_accounts = [{"id": account.pk, "name": account.name, "revenue_won": float(won_by_account.get(account.pk, 0))}
                    for account in plan.key_accounts.order_by("name")]
    actions = list(plan.actions.all())
    overdue = sum(1 for action in actions if not action.is_done and action.due_date < plan.period_end)
    return {
        "source": source,
        "goals": goals,
        "goals_met": sum(1 for goal in goals if goal["met"]),
        "key_accounts": key_accounts,
        "actions": {"total": len(actions), "done": sum(1 for action in actions if action.is_done),
                    "overdue": overdue},
    }
