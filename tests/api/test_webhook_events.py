"""Services announce what integrations subscribe to: scenario.activated and account.reassigned, once per run or
move (not once per account), recorded in the transaction and sent only after it commits."""

import pytest
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError

from accounts.services import events
from accounts.services.allocation import allocation_preview, allocation_run
from core.models import WebhookDelivery, WebhookSubscription
from territories.services import scenario_activate
from territories.workspace.services import accounts_move, scenario_edit_undo
from tests.factories import AccountFactory, ScenarioFactory, TerritoryFactory, square

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscribed(manager_user):
    return WebhookSubscription.objects.create(owner=manager_user, url="https://crm.example.com/hook", secret="s",
                                              events=["account.reassigned", "scenario.activated"])


@pytest.fixture
def plan():
    """A planning scenario with two geography leaves and three accounts, two in West and one in East."""
    scenario = ScenarioFactory(name="FY27")
    west = TerritoryFactory(scenario=scenario, code="W", boundary=square(0, 0))
    east = TerritoryFactory(scenario=scenario, code="E", boundary=square(1, 0))
    accounts = [AccountFactory(external_id=f"A{i}", location=Point(x, 0.5, srid=4326))
                for i, x in enumerate((0.2, 0.4, 1.5))]
    return scenario, west, east, accounts


def _deliveries(event):
    return list(WebhookDelivery.objects.filter(event=event).order_by("pk"))


def test_activation_announces_itself_after_commit(subscribed, plan, manager_user, django_capture_on_commit_callbacks):
    live = ScenarioFactory(name="FY26", status="active")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        scenario_activate(scenario=plan[0], actor=manager_user)
    [delivery] = _deliveries("scenario.activated")
    payload = delivery.payload
    assert {key: payload[key] for key in ("scenario", "name", "via", "previous_active", "actor")} == {
        "scenario": plan[0].pk, "name": "FY27", "via": "manual", "previous_active": live.pk,
        "actor": manager_user.username}
    assert len(callbacks) == 1  # queued for sending only once the activation commits
    with pytest.raises(ValidationError):
        scenario_activate(scenario=plan[0])
    assert len(_deliveries("scenario.activated")) == 1  # a refused activation announces nothing


def test_an_allocation_run_is_one_event_listing_the_accounts_that_moved(subscribed, plan, manager_user):
    scenario, west, east, accounts = plan
    allocation_preview(scenario=scenario)
    assert _deliveries("account.reassigned") == []  # a preview changes nothing
    run = allocation_run(scenario=scenario, created_by=manager_user)
    [first] = _deliveries("account.reassigned")
    assert first.payload == {
        "scenario": scenario.pk, "scenario_name": "FY27", "scenario_is_active": False, "source": "allocation",
        "run": run.pk, "actor": manager_user.username, "accounts_total": 3, "truncated": False,
        "accounts": [
            {"account": accounts[0].pk, "external_id": "A0", "from_territory": None, "from_code": None,
             "to_territory": west.pk, "to_code": "W"},
            {"account": accounts[1].pk, "external_id": "A1", "from_territory": None, "from_code": None,
             "to_territory": west.pk, "to_code": "W"},
            {"account": accounts[2].pk, "external_id": "A2", "from_territory": None, "from_code": None,
             "to_territory": east.pk, "to_code": "E"},
        ],
    }
    allocation_run(scenario=scenario)
    assert len(_deliveries("account.reassigned")) == 1  # nothing changed, nothing announced
    accounts[1].location = Point(1.6, 0.5, srid=4326)
    accounts[1].save()
    allocation_run(scenario=scenario)
    latest = _deliveries("account.reassigned")[-1].payload
    assert (latest["accounts_total"], latest["accounts"]) == (1, [
        {"account": accounts[1].pk, "external_id": "A1", "from_territory": west.pk, "from_code": "W",
         "to_territory": east.pk, "to_code": "E"}])


def test_the_list_is_capped_and_says_so(subscribed, plan, monkeypatch):
    monkeypatch.setattr(events, "ACCOUNTS_PER_EVENT", 2)
    allocation_run(scenario=plan[0])
    [delivery] = _deliveries("account.reassigned")
    assert (delivery.payload["accounts_total"], delivery.payload["truncated"]) == (3, True)
    assert [a["external_id"] for a in delivery.payload["accounts"]] == ["A0", "A1"]


def test_a_move_on_the_map_and_its_undo_are_one_event_each(subscribed, plan, manager_user):
    scenario, west, east, accounts = plan
    allocation_run(scenario=scenario)
    accounts_move(scenario_id=scenario.pk, version=None, account_ids=[a.pk for a in accounts], territory_id=east.pk,
                  actor=manager_user)
    moved = _deliveries("account.reassigned")[-1].payload
    assert (moved["source"], moved["actor"], moved["accounts_total"]) == ("manual", manager_user.username, 2)
    assert {(a["external_id"], a["from_code"], a["to_code"]) for a in moved["accounts"]} == {
        ("A0", "W", "E"), ("A1", "W", "E")}
    scenario_edit_undo(scenario_id=scenario.pk, version=None, actor=manager_user)
    undone = _deliveries("account.reassigned")[-1].payload
    assert {(a["external_id"], a["from_code"], a["to_code"]) for a in undone["accounts"]} == {
        ("A0", "E", "W"), ("A1", "E", "W")}
    assert len(_deliveries("account.reassigned")) == 3


def test_nothing_is_recorded_without_a_subscriber(plan):
    allocation_run(scenario=plan[0])
    assert not WebhookDelivery.objects.exists()
