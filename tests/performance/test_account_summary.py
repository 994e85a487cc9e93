"""The per-account summary kept by triggers equals what the activity and opportunity tables say, whatever wrote them."""

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from accounts.models import Account
from performance.models import AccountActivitySummary, Activity, Opportunity
from reps.coverage import account_attention_annotate
from tests.factories import AccountFactory, ActivityFactory, OpportunityFactory, RepFactory

pytestmark = pytest.mark.django_db

VISITS = [Activity.Kind.VISIT, Activity.Kind.MEETING]


def ago(days: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


def summary(account: Account) -> AccountActivitySummary | None:
    return AccountActivitySummary.objects.filter(account=account).first()


def expected_summaries() -> dict[int, tuple]:
    """The summary recomputed from scratch with the ORM, for every account that has anything to summarise."""
    expected: dict[int, list] = {}
    for row in Activity.objects.filter(kind__in=VISITS).values("account_id").annotate(last=Max("occurred_at")):
        expected.setdefault(row["account_id"], [None, 0, Decimal(0), None])[0] = row["last"]
    open_deals = Opportunity.objects.exclude(stage__in=[Opportunity.Stage.WON, Opportunity.Stage.LOST])
    for row in open_deals.values("account_id").annotate(n=Count("id"), amount=Sum("amount"), close=Min("close_date")):
        expected.setdefault(row["account_id"], [None, 0, Decimal(0), None])[1:] = [
            row["n"], row["amount"], row["close"]]
    return {account_id: tuple(values) for account_id, values in expected.items()}


def stored_summaries() -> dict[int, tuple]:
    """The trigger-kept rows, leaving out those that summarise nothing (an account whose last deal closed)."""
    rows = AccountActivitySummary.objects.exclude(last_visit_at__isnull=True, open_opportunities=0)
    return {row.account_id: (row.last_visit_at, row.open_opportunities, row.open_amount, row.next_close_date)
            for row in rows}


def test_visits_and_meetings_set_the_last_visit_and_calls_do_not():
    account = AccountFactory()
    ActivityFactory(account=account, kind=Activity.Kind.CALL, occurred_at=ago(1))
    assert summary(account) is None

    older = ActivityFactory(account=account, kind=Activity.Kind.VISIT, occurred_at=ago(20))
    latest = ActivityFactory(account=account, kind=Activity.Kind.MEETING, occurred_at=ago(5))
    assert summary(account).last_visit_at == latest.occurred_at

    latest.delete()
    assert summary(account).last_visit_at == older.occurred_at

    older.kind = Activity.Kind.EMAIL
    older.save()
    assert summary(account).last_visit_at is None


def test_an_activity_moved_to_another_account_updates_both():
    first, second = AccountFactory(), AccountFactory()
    visit = ActivityFactory(account=first, occurred_at=ago(3))
    Activity.objects.filter(pk=visit.pk).update(account=second)
    assert summary(first).last_visit_at is None
    assert summary(second).last_visit_at == visit.occurred_at


def test_open_pipeline_follows_stage_changes_and_deletes():
    account = AccountFactory()
    soon = OpportunityFactory(account=account, amount=Decimal("100.00"), close_date=dt.date.today())
    OpportunityFactory(account=account, amount=Decimal("250.50"), close_date=dt.date.today() + dt.timedelta(days=9))
    OpportunityFactory(account=account, amount=Decimal("999.00"), stage=Opportunity.Stage.LOST)
    row = summary(account)
    assert (row.open_opportunities, row.open_amount, row.next_close_date) == (2, Decimal("350.50"), soon.close_date)

    soon.stage = Opportunity.Stage.WON
    soon.save()
    row = summary(account)
    assert (row.open_opportunities, row.open_amount) == (1, Decimal("250.50"))
    assert row.next_close_date == dt.date.today() + dt.timedelta(days=9)

    Opportunity.objects.filter(account=account).delete()
    row = summary(account)
    assert (row.open_opportunities, row.open_amount, row.next_close_date) == (0, Decimal("0"), None)


def test_bulk_writes_keep_the_summary_exact():
    """A random mix of bulk inserts, updates and deletes, as imports and the bulk API do, checked against the ORM."""
    rng = random.Random(4)
    accounts = AccountFactory.create_batch(12)
    rep = RepFactory()
    kinds = list(Activity.Kind)
    stages = list(Opportunity.Stage)
    for _ in range(6):
        Activity.objects.bulk_create([
            Activity(account=rng.choice(accounts), rep=rep, kind=rng.choice(kinds),
                     occurred_at=ago(rng.uniform(0, 400)))
            for _ in range(25)
        ])
        Opportunity.objects.bulk_create([
            Opportunity(account=rng.choice(accounts), rep=rep, name="deal", stage=rng.choice(stages),
                        amount=Decimal(rng.randint(1, 90000)), created_date=dt.date.today(),
                        close_date=dt.date.today() + dt.timedelta(days=rng.randint(-30, 90)))
            for _ in range(10)
        ])
        victims = list(Activity.objects.order_by("?").values_list("pk", flat=True)[:8])
        Activity.objects.filter(pk__in=victims).delete()
        Activity.objects.filter(pk__in=list(Activity.objects.order_by("?").values_list("pk", flat=True)[:5])).update(
            occurred_at=ago(rng.uniform(0, 30)), kind=Activity.Kind.VISIT)
        Opportunity.objects.filter(pk__in=Opportunity.objects.order_by("?").values("pk")[:4]).update(
            stage=rng.choice(stages))
        Opportunity.objects.filter(pk__in=Opportunity.objects.order_by("?").values("pk")[:2]).delete()
        assert stored_summaries() == expected_summaries()


def test_deleting_an_account_with_history_removes_its_summary():
    account = AccountFactory()
    ActivityFactory.create_batch(3, account=account)
    OpportunityFactory(account=account)
    account_id = account.pk
    account.delete()
    assert not AccountActivitySummary.objects.filter(account_id=account_id).exists()


def test_truncate_clears_the_summary_half_it_came_from():
    account = AccountFactory()
    ActivityFactory(account=account)
    OpportunityFactory(account=account)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's transaction holds deferred FK checks
        cursor.execute(f"TRUNCATE {Activity._meta.db_table}")
    row = summary(account)
    assert row.last_visit_at is None and row.open_opportunities == 1


def test_the_book_ignores_a_future_dated_visit_as_of_now_and_sees_it_later():
    account = AccountFactory()
    past = ActivityFactory(account=account, occurred_at=ago(12))
    future = ActivityFactory(account=account, occurred_at=ago(-3))
    assert summary(account).last_visit_at == future.occurred_at

    now = account_attention_annotate(Account.objects.filter(pk=account.pk)).get()
    assert now.last_visit_at == past.occurred_at
    later = account_attention_annotate(Account.objects.filter(pk=account.pk), at=ago(-4)).get()
    assert later.last_visit_at == future.occurred_at
    before_any = account_attention_annotate(Account.objects.filter(pk=account.pk), at=ago(30)).get()
    assert before_any.last_visit_at is None


def test_the_book_reads_open_pipeline_from_the_summary():
    account = AccountFactory()
    OpportunityFactory(account=account, amount=Decimal("10.00"))
    OpportunityFactory(account=account, amount=Decimal("5.00"), stage=Opportunity.Stage.WON)
    annotated = account_attention_annotate(Account.objects.filter(pk=account.pk)).get()
    assert (annotated.open_opportunities, annotated.open_amount) == (1, Decimal("10.00"))
    bare = account_attention_annotate(Account.objects.filter(pk=AccountFactory().pk)).get()
    assert (bare.open_opportunities, bare.open_amount, bare.last_visit_at) == (0, 0, None)
    assert not Account.objects.filter(pk=bare.pk, activity_summary__isnull=False).exists()


def test_no_summary_rows_for_accounts_without_history():
    AccountFactory.create_batch(3)
    assert AccountActivitySummary.objects.count() == 0
    assert Account.objects.filter(~Q(activity_summary=None)).count() == 0
