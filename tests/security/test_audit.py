"""Who changed what, from what to what: django-simple-history keeps a row per change of a scenario, territory,
rule, override and rep assignment with the signed-in user (HistoryRequestMiddleware), and the territory and
account pages show it."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from accounts.models import AccountOverride
from reps.models import RepAssignment
from territories.models import AssignmentRule, Scenario, ScenarioEvent, Territory
from territories.services import scenario_activate


@pytest.fixture
def manager_api(world):
    client = APIClient()
    client.force_login(world.users["manager"])  # a session, so the history middleware sees the user
    return client


def _last_change(instance):
    record = instance.history.order_by("-history_date", "-history_id").first()
    previous = record.prev_record
    changes = {change.field: (change.old, change.new) for change in record.diff_against(previous).changes} \
        if previous else {}
    return record, changes


def test_territory_and_scenario_changes_record_who_and_what(world, manager_api):
    manager = world.users["manager"]
    territory = world.plan_central
    assert manager_api.patch(f"/api/v1/territories/{territory.pk}/", {"name": "Central Texas"},
                             format="json").status_code == 200
    record, changes = _last_change(Territory.objects.get(pk=territory.pk))
    assert (record.history_type, record.history_user) == ("~", manager)
    assert changes["name"] == ("Central", "Central Texas")

    # Activation runs as a job (no request, so no history user): the scenario's events name the actor.
    scenario_activate(scenario=world.plan, actor=manager)
    record, changes = _last_change(Scenario.objects.get(pk=world.plan.pk))
    assert changes["status"] == ("planning", "active")
    _archived, changes = _last_change(Scenario.objects.get(pk=world.live.pk))
    assert changes["status"] == ("active", "archived")
    assert list(ScenarioEvent.objects.filter(scenario__in=[world.plan, world.live]).order_by("pk")
                .values_list("scenario__name", "action", "actor__username")) == [
        ("Live", "archived", "manager-user"), ("Plan FY27", "activated", "manager-user")]


def test_rule_and_override_changes_record_who_and_what(world, manager_api):
    manager = world.users["manager"]
    criteria = [{"field": "industry", "op": "equals", "value": "energy"}]
    assert manager_api.patch(f"/api/v1/rules/{world.rule.pk}/", {"criteria": criteria},
                             format="json").status_code == 200
    record, changes = _last_change(AssignmentRule.objects.get(pk=world.rule.pk))
    assert record.history_user == manager
    assert changes["criteria"] == ([{"field": "industry", "op": "equals", "value": "manufacturing"}], criteria)

    created = manager_api.post("/api/v1/overrides/", {"scenario": world.plan.pk, "account": world.mine.pk,
                                                      "territory": world.plan_north.pk, "reason": "Key account"},
                               format="json")
    assert created.status_code == 201, created.json()
    override = AccountOverride.objects.get(pk=created.json()["id"])
    assert override.history.get().history_user == manager
    assert manager_api.delete(f"/api/v1/overrides/{override.pk}/").status_code == 204
    record, changes = _last_change(AccountOverride.objects.get(pk=override.pk))
    assert record.history_user == manager and changes["is_active"] == (True, False)


def test_rep_assignment_changes_record_who_and_what(world, manager_api):
    manager = world.users["manager"]
    start = dt.date.today() + dt.timedelta(days=1)
    created = manager_api.post("/api/v1/rep-assignments/", {"rep": None, "territory": world.central.pk,
                                                             "valid_from": start.isoformat()}, format="json")
    assert created.status_code == 201, created.json()
    vacancy = RepAssignment.objects.get(pk=created.json()["id"])
    assert vacancy.history.get().history_user == manager
    record, changes = _last_change(RepAssignment.objects.get(pk=world.my_assignment.pk))  # Alice's row closed
    assert record.history_user == manager and changes["valid_to"] == (None, start)


def test_pages_show_the_history(world, manager_api, client):
    assert manager_api.patch(f"/api/v1/territories/{world.plan_central.pk}/", {"name": "Central Texas"},
                             format="json").status_code == 200
    client.force_login(world.users["manager"])
    page = client.get(f"/workspace/territories/{world.plan_central.pk}/").content.decode()
    assert "Changed" in page and "manager-user" in page

    account_page = client.get(f"/accounts/{world.mine.pk}/")
    history = account_page.context["history"]
    assert [assignment.territory.code for assignment, _reason in history] == ["R-C", "R-C"]
    assert "Assignment history" in account_page.content.decode()
