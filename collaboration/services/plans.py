"""Territory sales plans: written by the rep (draft), submitted, approved by the manager above, reviewed at the end.

The workflow is draft → submitted → approved → reviewed; a manager may return a submitted plan to draft with a
note. A review is written from the period's last day on, and stores the goals compared with the KPIs.
"""

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.selectors import accounts_in_territories
from collaboration.models import Notification, SalesPlan, SalesPlanAction, SalesPlanGoal
from collaboration.selectors.plans import (
    APPROVE_PERMISSION,
    sales_plan_can_approve,
    sales_plan_can_edit,
    sales_plan_review_compute,
)
from collaboration.selectors.scope import managers_above, territories_in_scope, user_is_admin
from collaboration.services.comments import comment_add
from collaboration.services.notifications import notification_notify
from collaboration.urls_helpers import target_url
from performance.models import Quota
from territories.models import Territory
from territories.selectors import territory_descendant_ids


def _name(user) -> str:
    return user.get_full_name() or user.username


def _require_editable(*, user, plan: SalesPlan) -> None:
    if not user.has_perm("collaboration.change_salesplan") or not sales_plan_can_edit(user=user, plan=plan):
        raise PermissionDenied("Only the author or a manager above the territory edits a draft plan.")


@transaction.atomic
def sales_plan_create(*, user, territory: Territory, period_start: dt.date, period_end: dt.date,
                      strategy: str = "") -> SalesPlan:
    """Start a draft plan for a territory and period; its goals start as the territory's quotas for the period."""
    if not user.has_perm("collaboration.add_salesplan"):
        raise PermissionDenied("You cannot write sales plans.")
    if not territories_in_scope(user=user, territory_ids=[territory.pk]):
        raise PermissionDenied("You can only plan territories you cover or manage.")
    if period_end < period_start:
        raise ValidationError({"period_end": "The period ends before it starts."})
    if SalesPlan.objects.filter(territory=territory, period_start=period_start, period_end=period_end).exists():
        raise ValidationError("This territory already has a plan for this period.")
    plan = SalesPlan.objects.create(territory=territory, period_start=period_start, period_end=period_end,
                                    strategy=strategy.strip(), author=user)
    quotas = Quota.objects.filter(territory=territory, period_start__lte=period_end,
                                  period_end__gte=period_start).order_by("metric", "period_start")
    SalesPlanGoal.objects.bulk_create(
        [SalesPlanGoal(plan=plan, quota=quota, metric=quota.metric, target=quota.target,
                       description=f"Quota {quota.period_start} to {quota.period_end}") for quota in quotas]
    )
    return plan


@transaction.atomic
def sales_plan_update(*, user, plan: SalesPlan, strategy: str | None = None,
                      key_account_ids: list[int] | None = None) -> SalesPlan:
    _require_editable(user=user, plan=plan)
    if strategy is not None:
        plan.strategy = strategy.strip()
    if key_account_ids is not None:
        in_territory = set(
            accounts_in_territories(scenario=plan.territory.scenario,
                                    territory_ids=territory_descendant_ids(territory=plan.territory))
            .filter(pk__in=key_account_ids).values_list("pk", flat=True)
        )
        if outside := sorted(set(key_account_ids) - in_territory):
            raise ValidationError({"key_account_ids": f"Not accounts of this territory: {outside}"})
        plan.key_accounts.set(in_territory)
    plan.save()
    return plan


def _decimal(value, *, name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError({name: "Give a number."}) from None
    if number < 0:
        raise ValidationError({name: "Give a positive number."})
    return number


@transaction.atomic
def sales_plan_goal_add(*, user, plan: SalesPlan, metric: str, target, description: str = "",
                        quota: Quota | None = None) -> SalesPlanGoal:
    _require_editable(user=user, plan=plan)
    if quota is not None:
        if quota.territory_id != plan.territory_id:
            raise ValidationError({"quota": "Link a quota of this territory."})
        metric = quota.metric
    if metric not in SalesPlanGoal.Metric.values:
        raise ValidationError({"metric": f"Choose one of {', '.join(SalesPlanGoal.Metric.values)}."})
    goal = SalesPlanGoal(plan=plan, quota=quota, metric=metric, target=_decimal(target, name="target"),
                         description=(description or "").strip()[:300])
    goal.full_clean()
    goal.save()
    return goal


@transaction.atomic
def sales_plan_goal_remove(*, user, goal: SalesPlanGoal) -> None:
    _require_editable(user=user, plan=goal.plan)
    goal.delete()


@transaction.atomic
def sales_plan_action_add(*, user, plan: SalesPlan, description: str, due_date: dt.date, owner=None,
                          account_id: int | None = None) -> SalesPlanAction:
    _require_editable(user=user, plan=plan)
    if not (description or "").strip():
        raise ValidationError({"description": "Say what is to be done."})
    action = SalesPlanAction(plan=plan, description=description.strip()[:300], due_date=due_date,
                             owner=owner or user, account_id=account_id)
    action.full_clean()
    action.save()
    return action


@transaction.atomic
def sales_plan_action_set_done(*, user, action: SalesPlanAction, is_done: bool = True) -> SalesPlanAction:
    """The action's owner, the plan's author or a manager above ticks an action off, in any state but reviewed."""
    plan = action.plan
    allowed = user.pk in {action.owner_id, plan.author_id} or sales_plan_can_approve(user=user, plan=plan,
                                                                                    any_status=True)
    if not allowed:
        raise PermissionDenied("Only the action's owner, the author or a manager ticks it off.")
    if plan.status == SalesPlan.Status.REVIEWED:
        raise ValidationError("The plan has been reviewed.")
    action.is_done = is_done
    action.done_at = timezone.now() if is_done else None
    action.save(update_fields=["is_done", "done_at"])
    return action


def _transition(*, plan: SalesPlan, to: str, reason: str) -> None:
    plan.status = to
    plan._change_reason = reason
    plan.save()


def _notify(*, user, plan: SalesPlan, recipients, message: str) -> None:
    notification_notify(recipients=recipients, actor=user, kind=Notification.Kind.PLAN_STATE, message=message,
                        target=plan, url=target_url(plan))


@transaction.atomic
def sales_plan_submit(*, user, plan: SalesPlan) -> SalesPlan:
    plan = SalesPlan.objects.select_for_update().get(pk=plan.pk)
    _require_editable(user=user, plan=plan)
    if not plan.strategy:
        raise ValidationError({"strategy": "Write the strategy before submitting."})
    if not plan.goals.exists():
        raise ValidationError("Set at least one goal before submitting.")
    plan.submitted_at = timezone.now()
    _transition(plan=plan, to=SalesPlan.Status.SUBMITTED, reason=f"Submitted by {user.username}")
    _notify(user=user, plan=plan, recipients=managers_above(territory_ids=[plan.territory_id],
                                                            permission=APPROVE_PERMISSION),
            message=f"{_name(user)} submitted {plan} for approval")
    return plan


@transaction.atomic
def sales_plan_approve(*, user, plan: SalesPlan, note: str = "") -> SalesPlan:
    plan = SalesPlan.objects.select_for_update().get(pk=plan.pk)
    if not sales_plan_can_approve(user=user, plan=plan):
        if plan.status != SalesPlan.Status.SUBMITTED:
            raise ValidationError("Only a submitted plan can be approved.")
        raise PermissionDenied("Only a manager above the territory approves its plan.")
    plan.approved_by, plan.approved_at = user, timezone.now()
    _transition(plan=plan, to=SalesPlan.Status.APPROVED, reason=f"Approved by {user.username}")
    comment_add(user=user, target=plan, body=f"{_name(user)} approved this plan." + (f"\n{note}" if note else ""),
                is_system=True)
    _notify(user=user, plan=plan, recipients=[plan.author], message=f"{_name(user)} approved {plan}")
    return plan


@transaction.atomic
def sales_plan_return(*, user, plan: SalesPlan, note: str) -> SalesPlan:
    """Send a submitted plan back to its author as a draft, with what to change."""
    plan = SalesPlan.objects.select_for_update().get(pk=plan.pk)
    if not sales_plan_can_approve(user=user, plan=plan):
        raise PermissionDenied("Only a manager above the territory returns a submitted plan.")
    if not (note or "").strip():
        raise ValidationError({"note": "Tell the author what to change."})
    _transition(plan=plan, to=SalesPlan.Status.DRAFT, reason=f"Returned by {user.username}")
    comment_add(user=user, target=plan, body=f"{_name(user)} returned this plan for changes.\n{note.strip()}",
                is_system=True)
    _notify(user=user, plan=plan, recipients=[plan.author], message=f"{_name(user)} returned {plan} for changes")
    return plan


@transaction.atomic
def sales_plan_review(*, user, plan: SalesPlan, comment: str = "", today: dt.date | None = None) -> SalesPlan:
    """Close an approved plan at period end with the goals compared against the KPIs."""
    plan = SalesPlan.objects.select_for_update().get(pk=plan.pk)
    today = today or timezone.localdate()
    is_participant = plan.author_id == user.pk or sales_plan_can_approve(user=user, plan=plan, any_status=True)
    if not (is_participant or user_is_admin(user)):
        raise PermissionDenied("Only the author or a manager above the territory reviews its plan.")
    if plan.status != SalesPlan.Status.APPROVED:
        raise ValidationError("Only an approved plan can be reviewed.")
    if today < plan.period_end:
        raise ValidationError(f"The review is written at the end of the period, from {plan.period_end}.")
    plan.review = sales_plan_review_compute(plan=plan)
    plan.review_comment = (comment or "").strip()
    plan.reviewed_by, plan.reviewed_at = user, timezone.now()
    _transition(plan=plan, to=SalesPlan.Status.REVIEWED, reason=f"Reviewed by {user.username}")
    _notify(user=user, plan=plan, recipients=[plan.author, plan.approved_by], message=f"{_name(user)} reviewed {plan}")
    return plan
