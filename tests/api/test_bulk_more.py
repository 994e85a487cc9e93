"""Bulk loads of activities (created per item) and opportunities (upserted by external id): one transaction, a
per-item report, all-or-nothing unless skip_invalid, the shared 10,000 limit, and the single-item permissions."""

import datetime as dt
from decimal import Decimal

import pytest

from core.api import bulk
from performance.models import Activity, Opportunity
from reps.models import RepAssignment
from territories.models import Scenario
from tests.factories import (
    AccountAssignmentFactory,
    AccountFactory,
    OpportunityFactory,
    RepAssignmentFactory,
    RepFactory,
    ScenarioFactory,
    TeamFactory,
    TerritoryFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
ACTIVITIES = "/api/v1/activities/bulk/"
OPPORTUNITIES = "/api/v1/opportunities/bulk/"
WHEN = "2026-01-05T10:00:00Z"


@pytest.fixture
def book(manager_user, rep_user):
    """The rep (manager_user's team) owns territory T1 with MINE-1..3; another team's rep owns T2 with THEIRS-1."""
    scenario = ScenarioFactory(status=Scenario.Status.ACTIVE)
    mine, theirs = TerritoryFactory(scenario=scenario), TerritoryFactory(scenario=scenario)
    team = TeamFactory(manager=manager_user)
    rep = RepFactory(user=rep_user, team=team, email="rep@example.com")
    other_rep = RepFactory(user=UserFactory(username="other-rep", role="sales rep"),
                           team=TeamFactory(manager=UserFactory(username="other-manager", role="sales manager")),
                           email="other@example.com")
    RepAssignmentFactory(rep=rep, territory=mine, role=RepAssignment.Role.OWNER)
    RepAssignmentFactory(rep=other_rep, territory=theirs, role=RepAssignment.Role.OWNER)
    for index in range(1, 4):
        AccountAssignmentFactory(account=AccountFactory(external_id=f"MINE-{index}"), territory=mine)
    AccountAssignmentFactory(account=AccountFactory(external_id="THEIRS-1"), territory=theirs)
    return {"rep": rep, "other_rep": other_rep}


@pytest.fixture
def rep_api(api_client, rep_user):
    api_client.force_authenticate(rep_user)
    return api_client


# activities


def test_a_valid_batch_creates_one_activity_per_item(rep_api, book):
    items = [{"account_external_id": f"MINE-{i}", "kind": "visit", "occurred_at": WHEN, "duration_minutes": 40 + i}
             for i in range(1, 4)]
    items.append({"account_external_id": "MINE-1", "kind": "call", "occurred_at": WHEN, "outcome": "Demo booked"})
    response = rep_api.post(ACTIVITIES, {"items": items}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert {key: body[key] for key in ("items", "errors", "report", "created", "updated", "unchanged", "skipped",
                                       "committed", "message")} == {
        "items": 4, "errors": 0, "report": [], "created": 4, "updated": 0, "unchanged": 0, "skipped": 0,
        "committed": True, "message": "4 activities created, 0 skipped."}
    assert Activity.objects.count() == 4
    assert set(Activity.objects.values_list("rep_id", flat=True)) == {book["rep"].pk}  # a rep logs as themselves
    assert sorted(Activity.objects.filter(kind="visit").values_list("account__external_id", "duration_minutes")) \
        == [("MINE-1", 41), ("MINE-2", 42), ("MINE-3", 43)]
    assert Activity.objects.get(kind="call").notes == "Outcome: Demo booked"


BAD_ACTIVITIES = [
    {"account_external_id": "MINE-1", "kind": "visit", "occurred_at": WHEN},
    {"account_external_id": "MINE-2", "kind": "lunch", "occurred_at": WHEN},
    {"account_external_id": "NOPE", "kind": "call", "occurred_at": WHEN},
    "not an object",
    {"account_external_id": "MINE-3", "kind": "email", "occurred_at": "2099-01-01T00:00:00Z"},
    {"account_external_id": "MINE-3", "kind": "meeting", "occurred_at": WHEN},
]
ACTIVITY_REPORT = [
    {"index": 1, "field": "kind", "message": 'kind "lunch" is not a valid choice.'},
    {"index": 2, "field": "account_external_id", "message": "account_external_id 'NOPE' is not an account in "
                                                            "your book"},
    {"index": 3, "field": "item", "message": "item must be an object with account_external_id and kind"},
    {"index": 4, "field": "occurred_at", "message": "occurred_at An activity cannot be logged in the future."},
]


def test_one_bad_activity_saves_nothing_and_the_report_names_index_and_field(rep_api, book):
    response = rep_api.post(ACTIVITIES, {"items": BAD_ACTIVITIES}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["committed"], body["errors"], body["created"], body["skipped"]) == (
        "invalid", False, 4, 0, 6)
    assert body["report"] == ACTIVITY_REPORT
    assert body["message"] == ("Rejected: 4 of 6 items have errors; nothing was saved. Fix them, or send again with "
                               "skip_invalid.")
    assert not Activity.objects.exists()


def test_skip_invalid_saves_exactly_the_good_activities(rep_api, book):
    response = rep_api.post(ACTIVITIES, {"items": BAD_ACTIVITIES, "skip_invalid": True}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["skipped"], body["errors"], body["report"]) == (2, 4, 4, ACTIVITY_REPORT)
    assert sorted(Activity.objects.values_list("account__external_id", "kind")) == [("MINE-1", "visit"),
                                                                                   ("MINE-3", "meeting")]


def test_a_rep_cannot_bulk_log_on_another_reps_account_or_as_another_rep(rep_api, book):
    response = rep_api.post(ACTIVITIES, {"items": [
        {"account_external_id": "MINE-1", "kind": "visit", "occurred_at": WHEN},
        {"account_external_id": "THEIRS-1", "kind": "visit", "occurred_at": WHEN},
        {"account_external_id": "MINE-2", "kind": "visit", "occurred_at": WHEN, "rep": book["other_rep"].pk},
    ]}, format="json")
    assert response.status_code == 400
    assert response.json()["report"] == [
        {"index": 1, "field": "account_external_id",
         "message": "account_external_id 'THEIRS-1' is not an account in your book"},
        {"index": 2, "field": "rep", "message": f"rep {book['other_rep'].pk} is not you: a rep logs activities as "
                                                "themselves"},
    ]
    assert not Activity.objects.exists()


def test_a_manager_logs_for_their_own_reps_only(manager_api, book):
    response = manager_api.post(ACTIVITIES, {"items": [
        {"account_external_id": "MINE-1", "kind": "visit", "occurred_at": WHEN, "rep": book["rep"].pk},
        {"account_external_id": "MINE-2", "kind": "visit", "occurred_at": WHEN, "rep": book["other_rep"].pk},
    ], "skip_invalid": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["report"] == [
        {"index": 1, "field": "rep", "message": f"rep {book['other_rep'].pk} is not one of your reps"}]
    assert list(Activity.objects.values_list("account__external_id", "rep_id")) == [("MINE-1", book["rep"].pk)]


def test_more_than_the_limit_of_activities_is_a_413(rep_api, book, monkeypatch):
    monkeypatch.setattr(bulk, "BULK_MAX_ITEMS", 2)
    items = [{"account_external_id": "MINE-1", "kind": "visit", "occurred_at": WHEN}] * 3
    response = rep_api.post(ACTIVITIES, {"items": items}, format="json")
    assert response.status_code == 413
    assert response.json() == {"code": "too_large", "message": "3 items is more than the 2 one request takes; send "
                                                               "larger sets in several requests of at most 2."}
    assert not Activity.objects.exists()


def test_more_than_ten_thousand_activities_is_a_413(rep_api, book):
    items = [{"account_external_id": "MINE-1", "kind": "visit"}] * 10_001
    response = rep_api.post(ACTIVITIES, {"items": items}, format="json")
    assert (response.status_code, response.json()["code"]) == (413, "too_large")
    assert not Activity.objects.exists()


# opportunities


def deal(number: int, **fields) -> dict:
    return {"external_id": f"OPP-{number}", "account_external_id": "MINE-1", "name": f"Deal {number}",
            "stage": "proposal", "amount": "1000.50", "close_date": "2026-06-30", **fields}


def test_a_valid_batch_upserts_opportunities_by_external_id(manager_api, book):
    OpportunityFactory(external_id="OPP-1", name="Old", amount=Decimal("5.00"))
    response = manager_api.post(OPPORTUNITIES, {"items": [
        deal(1, stage="Closed won", amount=7000),
        deal(2, rep_email="REP@example.com", created_date="2026-01-15", product="core"),
        deal(3, account_external_id="THEIRS-1", amount=12.5),
    ]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert {key: body[key] for key in ("items", "errors", "report", "created", "updated", "unchanged", "skipped",
                                       "committed", "message")} == {
        "items": 3, "errors": 0, "report": [], "created": 2, "updated": 1, "unchanged": 0, "skipped": 0,
        "committed": True, "message": "2 opportunities created, 1 updated, 0 skipped."}
    assert Opportunity.objects.count() == 3
    rows = {o.external_id: (o.account.external_id, o.name, o.stage, o.amount, o.rep_id, o.created_date, o.product)
            for o in Opportunity.objects.select_related("account")}
    assert rows == {
        "OPP-1": ("MINE-1", "Deal 1", "won", Decimal("7000.00"), None, dt.date(2026, 6, 30), ""),
        "OPP-2": ("MINE-1", "Deal 2", "proposal", Decimal("1000.50"), book["rep"].pk, dt.date(2026, 1, 15), "core"),
        "OPP-3": ("THEIRS-1", "Deal 3", "proposal", Decimal("12.50"), None, dt.date(2026, 6, 30), ""),
    }


BAD_DEALS = [
    deal(1),
    deal(2, amount="-3"),
    deal(3, account_external_id="NOPE", stage="maybe"),
    42,
    deal(1, name="Twice"),
    deal(5, created_date="2026-07-01"),
    deal(6),
]
DEAL_REPORT = [
    {"index": 1, "field": "amount", "message": "amount '-3' must be between 0 and 999,999,999,999.99"},
    {"index": 2, "field": "account_external_id", "message": "account_external_id no account with external id 'NOPE'"},
    {"index": 2, "field": "stage", "message": "stage 'maybe' is not one of prospecting, qualified, proposal, "
                                              "negotiation, won, lost"},
    {"index": 3, "field": "item", "message": "item must be an object with external_id, account_external_id, name, "
                                             "stage, amount and close_date"},
    {"index": 4, "field": "external_id", "message": "external_id 'OPP-1' appears again; first at item 0"},
    {"index": 5, "field": "created_date", "message": "created_date is after close_date"},
]


def test_one_bad_opportunity_saves_nothing_and_the_report_names_index_and_field(manager_api, book):
    response = manager_api.post(OPPORTUNITIES, {"items": BAD_DEALS}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["committed"], body["errors"], body["created"], body["skipped"]) == (
        "invalid", False, 5, 0, 7)
    assert body["report"] == DEAL_REPORT
    assert body["message"] == ("Rejected: 5 of 7 items have errors; nothing was saved. Fix them, or send again with "
                               "skip_invalid.")
    assert not Opportunity.objects.exists()


def test_skip_invalid_saves_exactly_the_good_opportunities(manager_api, book):
    response = manager_api.post(OPPORTUNITIES, {"items": BAD_DEALS, "skip_invalid": True}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["updated"], body["skipped"], body["report"]) == (2, 0, 5, DEAL_REPORT)
    assert sorted(Opportunity.objects.values_list("external_id", "name")) == [("OPP-1", "Deal 1"),
                                                                             ("OPP-6", "Deal 6")]


def test_more_than_the_limit_of_opportunities_is_a_413_pointing_to_the_import(manager_api, book, monkeypatch):
    monkeypatch.setattr(bulk, "BULK_MAX_ITEMS", 2)
    response = manager_api.post(OPPORTUNITIES, {"items": [deal(1), deal(2), deal(3)]}, format="json")
    assert response.status_code == 413
    assert response.json() == {"code": "too_large", "message": "3 items is more than the 2 one request takes; send "
                               "larger sets as a CSV file to POST /api/v1/opportunities/import/."}
    assert not Opportunity.objects.exists()


def test_more_than_ten_thousand_opportunities_is_a_413(manager_api, book):
    response = manager_api.post(OPPORTUNITIES, {"items": [deal(1)] * 10_001}, format="json")
    assert (response.status_code, response.json()["code"]) == (413, "too_large")
    assert not Opportunity.objects.exists()


def test_a_rep_cannot_bulk_load_opportunities_even_on_their_own_account(rep_api, book):
    response = rep_api.post(OPPORTUNITIES, {"items": [deal(1)]}, format="json")
    assert response.status_code == 403
    assert not Opportunity.objects.exists()


def test_a_bulk_batch_of_activities_queues_one_kpi_refresh(rep_api, book):
    from core.models import Job

    items = [{"account_external_id": f"MINE-{i}", "kind": "visit", "occurred_at": WHEN} for i in range(1, 4)]
    response = rep_api.post(ACTIVITIES, {"items": items}, format="json")
    assert response.status_code == 200, response.content
    refresh = Job.objects.get(kind=Job.Kind.KPI_RECOMPUTE)  # one for the batch, not one per activity
    assert refresh.params["account_ids"] == sorted(Activity.objects.values_list("account_id", flat=True).distinct())
