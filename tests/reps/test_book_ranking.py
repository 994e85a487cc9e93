"""The book's pages as RankedBook ranks them (the API's unfiltered book) are account_book_list's: the same rows, in the
same order, with the same fields, whatever the data (never visited, overdue, due soon, future-dated visits, tiers
without a cadence or with a zero one, ties) and after the writes that move an account in the book."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from performance.models import Activity
from reps.api.serializers import BookAccountSerializer
from reps.coverage import RankedBook, account_book_list
from reps.models import VisitCadence
from tests.factories import (
    AccountAssignmentFactory,
    ActivityFactory,
    OpportunityFactory,
    RepAssignmentFactory,
    TerritoryFactory,
)
from tests.reps.conftest import place

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


def ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


@pytest.fixture
def book(world, rep_user):
    """The rep of `world` owns Central (with world's Acme A, Bravo B and Cedar C, never visited) and a second
    territory; their accounts cover every case of the order."""
    for tier, visits in (("A", 24), ("B", 12), ("C", 0)):  # C: a cadence of nothing, not due, as D without one
        VisitCadence.objects.update_or_create(tier=tier, defaults={"visits_per_year": visits})
    VisitCadence.objects.filter(tier="D").delete()
    second = TerritoryFactory(scenario=world.scenario, parent=world.region, code="R-S", name="South")
    RepAssignmentFactory(rep=world.rep, territory=second)
    rep = world.rep
    accounts = {}

    def add(key, tier, *, territory=world.central, name=None, visits=(), amounts=()):
        account = place(territory, lon=-97.7, lat=30.3, name=name or key, tier=tier)
        for days in visits:
            ActivityFactory(account=account, rep=rep, occurred_at=ago(days))
        for amount in amounts:
            OpportunityFactory(account=account, rep=rep, amount=Decimal(amount))
        ActivityFactory(account=account, rep=rep, kind=Activity.Kind.CALL, occurred_at=ago(1))  # never a visit
        accounts[key] = account
        return account

    add("never A", "A")
    add("never A rich", "A", amounts=["900.00"])
    add("twin", "A", name="twin")  # same name, never visited: the id decides
    add("twin 2", "A", name="twin")
    add("overdue B", "B", visits=[95, 40])
    add("overdue B same day", "B", visits=[40], amounts=["10.00"])  # same due date: open amount first
    add("overdue B same day poorer", "B", visits=[40], amounts=["5.00"], territory=second)
    add("due soon B", "B", visits=[26])
    add("ok B open", "B", visits=[2], amounts=["300.00"])
    add("ok B", "B", visits=[3])
    add("future-dated B", "B", visits=[45, -3])  # the summary holds the future visit; as of now it is 45 days
    add("zero cadence C open", "C", visits=[400], amounts=["50.00"])
    add("zero cadence C", "C", visits=[10])
    add("no cadence D open", "D", amounts=["70.00"])
    add("no cadence D", "D", name="dull")
    add("no cadence D 2", "D", name="dull", territory=second)
    both = add("in both territories", "B", visits=[33])
    AccountAssignmentFactory(account=both, territory=second)  # listed once
    gone = add("left the book", "A")
    gone.assignments.update(valid_to=ago(1))
    return accounts


def ranked(user, *, at, size) -> tuple[list, set]:
    """Every page of the ranked book, in order, and the sizes it reported."""
    rows, totals = [], set()
    ranking = RankedBook(user=user, at=at)
    while True:
        page, total = ranking.page(len(rows), size)
        if not page:
            return rows, totals
        rows += page
        totals.add(total)


def features(accounts) -> str:
    return json.dumps(BookAccountSerializer(accounts, many=True).data, cls=DjangoJSONEncoder)


@pytest.mark.parametrize("at_days", [0, -30, 20, -400])
@pytest.mark.parametrize("size", [1, 3, 100])
def test_ranked_pages_are_the_books_rows_order_and_fields(book, rep_user, at_days, size):
    at = ago(at_days)
    expected = list(account_book_list(user=rep_user, at=at))
    rows, totals = ranked(rep_user, at=at, size=size)
    assert [account.pk for account in rows] == [account.pk for account in expected]
    assert features(rows) == features(expected)
    assert totals == {len(expected)}
    assert len(expected) == len(book) - 1 + 3  # every account once, but the one whose assignment ended


def test_the_order_covers_each_case(book, rep_user):
    """What the comparisons above compare is the order the book promises (so a test of equal lists cannot pass on
    a degenerate order)."""
    rows = ranked(rep_user, at=NOW, size=4)[0]
    names = [account.name for account in rows]
    # Never visited first (richest pipeline, then name, then id); then the most overdue (the future-dated visit is
    # not seen as of now, so its last visit is 45 days old); the same due date: the larger open amount first.
    assert names[:6] == ["never A rich", "Acme Austin", "Bravo Round Rock", "never A", "twin", "twin"]
    assert [account.pk for account in rows[4:6]] == sorted([book["twin"].pk, book["twin 2"].pk])
    assert names[6:11] == ["future-dated B", "overdue B same day", "overdue B same day poorer", "overdue B",
                           "in both territories"]
    assert names[11] == "due soon B"
    # Open pipeline: without a cadence first (richest first), then by due date; the rest with a cadence; the others.
    assert names[12:15] == ["no cadence D open", "zero cadence C open", "ok B open"]
    assert names[15:] == ["ok B", "Cedar San Marcos", "dull", "dull", "zero cadence C"]


def assert_same_book(user):
    at = timezone.now()
    expected = [account.pk for account in account_book_list(user=user, at=at)]
    assert [account.pk for account in ranked(user, at=at, size=3)[0]] == expected
    return expected


def test_the_ranking_follows_visits_logged_and_deleted(book, rep_user):
    before = assert_same_book(rep_user)
    visit = ActivityFactory(account=book["overdue B"], kind=Activity.Kind.VISIT, occurred_at=timezone.now())
    after = assert_same_book(rep_user)
    assert after.index(book["overdue B"].pk) > after.index(book["due soon B"].pk)  # visited: no longer due
    visit.delete()
    assert assert_same_book(rep_user) == before


def test_the_ranking_follows_tier_and_cadence_changes(book, rep_user):
    account = book["never A"]
    account.tier = "D"  # no cadence: no longer 'never visited', nothing open
    account.save()
    after_tier = assert_same_book(rep_user)
    assert after_tier.index(account.pk) > after_tier.index(book["ok B"].pk)

    VisitCadence.objects.filter(tier="B").update(visits_per_year=1)  # a year between visits: nothing B is overdue
    after_cadence = assert_same_book(rep_user)
    assert after_cadence.index(book["overdue B"].pk) > after_cadence.index(book["no cadence D open"].pk)
    VisitCadence.objects.filter(tier="C").update(visits_per_year=4)  # C gets a cadence: its 400-day-old visit is due
    after_c = assert_same_book(rep_user)
    assert after_c.index(book["zero cadence C open"].pk) < after_c.index(book["overdue B"].pk)


def test_the_api_pages_the_ranked_book(book, rep_user, api_client, monkeypatch):
    from rest_framework.pagination import PageNumberPagination

    api_client.force_authenticate(rep_user)
    monkeypatch.setattr(PageNumberPagination, "page_size", 5)
    accounts = list(account_book_list(user=rep_user))
    expected = [account.pk for account in accounts]
    ids, page = [], 1
    while True:
        body = api_client.get("/api/v1/me/accounts/", {"page": page}).json()
        assert body["count"] == len(expected)
        if not body["results"]["features"] or page > 10:
            break
        ids += [feature["id"] for feature in body["results"]["features"]]
        page += 1
    assert ids == expected
    # Filtered or re-ordered, the book is the annotated queryset's, as before.
    tier_b = api_client.get("/api/v1/me/accounts/", {"tier": "B"}).json()
    assert [f["id"] for f in tier_b["results"]["features"]] == [a.pk for a in accounts if a.tier == "B"][:5]


def test_admin_and_scenario_less_books(book, admin_user, rep_user, world):
    at = timezone.now()
    everything = [account.pk for account in account_book_list(user=admin_user, at=at)]
    assert [account.pk for account in ranked(admin_user, at=at, size=7)[0]] == everything
    world.scenario.status = "draft"
    world.scenario.save()
    assert ranked(rep_user, at=at, size=7) == ([], set())
    assert RankedBook(user=rep_user, at=at).count() == 0


def test_the_book_page_lists_and_maps_the_book_in_its_order(book, rep_user, client):
    client.force_login(rep_user)
    expected = list(account_book_list(user=rep_user).values_list("pk", flat=True))
    listed = [account.pk for account in client.get("/reps/me/").context["page"]]
    assert listed == expected[:50]
    nowhere = book["twin"]
    nowhere.location = None
    nowhere.save(update_fields=["location"])
    response = client.get("/reps/me/")
    assert [f["id"] for f in response.context["map_data"]["accounts"]] == [pk for pk in expected if pk != nowhere.pk]
    mapped = {f["id"]: f for f in response.context["map_data"]["accounts"]}
    first = book["never A"]
    assert (mapped[first.pk]["lon"], mapped[first.pk]["lat"], mapped[first.pk]["status"]) == (-97.7, 30.3, "never")
