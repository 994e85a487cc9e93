"""Sales plans through their workflow, share links, mentions and e-mail notifications."""

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from collaboration.models import Notification, SalesPlan
from collaboration.services import notifications
from collaboration.services.comments import comment_add, comment_mentions_parse
from collaboration.services.plans import (
    sales_plan_action_add,
    sales_plan_action_set_done,
    sales_plan_approve,
    sales_plan_create,
    sales_plan_review,
    sales_plan_submit,
    sales_plan_update,
)
from collaboration.services.sharing import ShareLinkGone, share_link_create, share_link_resolve, share_link_revoke

pytestmark = pytest.mark.django_db
Q1_START, Q1_END = dt.date(2025, 1, 1), dt.date(2025, 3, 31)


def test_a_plan_goes_from_draft_to_approved_to_reviewed_against_opportunities_won(world):
    from accounts.models import AccountAssignment
    from tests.factories import OpportunityFactory, QuotaFactory

    t1, rep_user, manager = world["t1"], world["rep_user"], world["manager"]
    # the accounts were in their territories throughout the period (the review uses those in force at its end)
    AccountAssignment.objects.update(valid_from=timezone.make_aware(dt.datetime(2024, 1, 1)))
    QuotaFactory(territory=t1, metric="revenue", period_start=Q1_START, period_end=Q1_END, target=Decimal("80000"))
    plan = sales_plan_create(user=rep_user, territory=t1, period_start=Q1_START, period_end=Q1_END)
    assert plan.status == "draft"
    assert [(g.metric, g.target, g.quota is not None) for g in plan.goals.all()] == [
        ("revenue", Decimal("80000.00"), True)]
    sales_plan_update(user=rep_user, plan=plan, strategy="Expand the top two plants",
                      key_account_ids=[world["a"][3].pk, world["a"][2].pk])
    with pytest.raises(ValidationError):
        sales_plan_update(user=rep_user, plan=plan, key_account_ids=[world["b"][0].pk])
    action = sales_plan_action_add(user=rep_user, plan=plan, description="Quarterly review with a4",
                                   due_date=dt.date(2025, 2, 15))
    sales_plan_submit(user=rep_user, plan=plan)
    with pytest.raises(PermissionDenied):
        sales_plan_approve(user=rep_user, plan=plan)
    with pytest.raises(PermissionDenied):
        sales_plan_approve(user=world["other_manager"], plan=plan)
    plan = sales_plan_approve(user=manager, plan=plan)
    assert plan.status == "approved" and plan.approved_by == manager
    sales_plan_action_set_done(user=rep_user, action=action)

    # won in the period: 50k on a4 and 20k on a3; outside the period or lost: ignored
    OpportunityFactory(account=world["a"][3], stage="won", amount=Decimal("50000"), close_date=dt.date(2025, 2, 1))
    OpportunityFactory(account=world["a"][2], stage="won", amount=Decimal("20000"), close_date=dt.date(2025, 3, 31))
    OpportunityFactory(account=world["a"][2], stage="won", amount=Decimal("99000"), close_date=dt.date(2025, 4, 1))
    OpportunityFactory(account=world["a"][0], stage="lost", amount=Decimal("99000"), close_date=dt.date(2025, 2, 1))
    OpportunityFactory(account=world["b"][0], stage="won", amount=Decimal("99000"), close_date=dt.date(2025, 2, 1))

    with pytest.raises(ValidationError):
        sales_plan_review(user=manager, plan=plan, today=dt.date(2025, 3, 30))
    plan = sales_plan_review(user=manager, plan=plan, comment="Short of target; a3 slipped", today=Q1_END)
    assert plan.status == "reviewed"
    assert plan.review["source"] == "opportunities"
    assert plan.review["goals"] == [{"id": plan.goals.get().pk, "metric": "revenue",
                                     "description": "Quota 2025-01-01 to 2025-03-31", "target": 80000.0,
                                     "actual": 70000.0, "attainment_pct": 87.5, "met": False}]
    assert plan.review["key_accounts"] == [{"id": world["a"][2].pk, "name": "a3", "revenue_won": 20000.0},
                                           {"id": world["a"][3].pk, "name": "a4", "revenue_won": 50000.0}]
    assert plan.review["actions"] == {"total": 1, "done": 1, "overdue": 0}
    assert list(plan.history.values_list("status", flat=True))[:4] == ["reviewed", "approved", "submitted", "draft"]
    assert Notification.objects.filter(recipient=rep_user, kind="plan_state").count() == 2


def test_a_review_uses_the_kpi_snapshot_when_there_is_one(world):
    from performance.models import KpiSnapshot

    plan = sales_plan_create(user=world["rep_user"], territory=world["t1"], period_start=Q1_START,
                             period_end=Q1_END, strategy="Hold")
    plan.goals.create(metric="visits", target=Decimal("40"))
    KpiSnapshot.objects.create(scenario=world["scenario"], territory=world["t1"], period_start=Q1_START,
                               period_end=Q1_END, metrics={"visits": 30, "revenue_won": 1})
    sales_plan_submit(user=world["rep_user"], plan=plan)
    sales_plan_approve(user=world["manager"], plan=plan)
    plan = sales_plan_review(user=world["rep_user"], plan=plan, today=dt.date(2025, 4, 2))
    assert plan.review["source"] == "kpi_snapshot"
    assert [(g["metric"], g["actual"], g["attainment_pct"]) for g in plan.review["goals"]] == [("visits", 30.0, 75.0)]


def test_another_rep_cannot_plan_a_territory_that_is_not_theirs(world):
    with pytest.raises(PermissionDenied):
        sales_plan_create(user=world["outsider_user"], territory=world["t1"], period_start=Q1_START,
                          period_end=Q1_END)
    assert SalesPlan.objects.count() == 0


def test_share_links_expire_and_can_be_revoked(world):
    manager = world["manager"]
    with pytest.raises(PermissionDenied):
        share_link_create(user=world["rep_user"], scenario=world["scenario"],
                          expires_at=timezone.now() + dt.timedelta(days=7))
    with pytest.raises(ValidationError):
        share_link_create(user=manager, scenario=world["scenario"], expires_at=timezone.now() - dt.timedelta(days=1))
    link, token = share_link_create(user=manager, scenario=world["scenario"],
                                    expires_at=timezone.now() + dt.timedelta(days=7), label="Finance")
    assert token not in link.token_hash and len(link.token_hash) == 64
    assert share_link_resolve(token=token) == link
    link.refresh_from_db()
    assert link.view_count == 1
    with pytest.raises(link.DoesNotExist):
        share_link_resolve(token=token[:-2] + "xx")
    later = link.expires_at + dt.timedelta(seconds=1)
    with mock.patch("django.utils.timezone.now", return_value=later), pytest.raises(ShareLinkGone, match="expired"):
        share_link_resolve(token=token)
    share_link_revoke(user=manager, link=link)
    with pytest.raises(ShareLinkGone, match="revoked"):
        share_link_resolve(token=token)


def test_mentions_notify_only_people_who_can_read_the_thread_and_mail_is_queued_on_commit(
    world, django_capture_on_commit_callbacks
):
    assert comment_mentions_parse(body="Hi @manager-user and @rep-c. Also @manager-user.") == ["manager-user", "rep-c"]
    task = "collaboration.tasks.notification_email_task.apply_async"
    with mock.patch(task) as queued, django_capture_on_commit_callbacks(execute=True):
        comment = comment_add(user=world["rep_user"], target=world["t1"],
                              body="Hi @manager-user and @rep-c. Also @manager-user.")
    assert [u.username for u in comment.mentions.all()] == ["manager-user"]  # rep-c cannot see T1
    notification = Notification.objects.get(recipient=world["manager"])
    assert notification.kind == "mention"
    assert notification.url == f"/collaboration/threads/territory/{world['t1'].pk}/"
    queued.assert_called_once_with(args=(notification.pk,), retry=False)

    assert notifications.notification_email_send(notification_id=notification.pk) is True
    assert notifications.notification_email_send(notification_id=notification.pk) is False  # idempotent
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["manager-user@example.com"]
    assert notifications.notification_mark_read(user=world["manager"]) == 1
