"""Two people at once: stale edits are refused with 409 (optimistic locking on versions), allocation runs of one
scenario take turns (a row lock on the scenario), activation and rollback are all-or-nothing, and "one active
scenario" and "one account per external id" hold in the database itself."""

import threading
import time

import pytest
from django.db import IntegrityError, connection, transaction
from rest_framework.test import APIClient

from accounts.models import Account, AccountAssignment, AllocationRun
from accounts.services.allocation import allocation_run
from territories.models import Scenario
from territories.services import scenario_activate, scenario_rollback
from tests.factories import ScenarioFactory, UserFactory, unit_grid_scenario


@pytest.fixture
def two_managers(db, manager_user):
    first, second = APIClient(), APIClient()
    first.force_authenticate(manager_user)
    second.force_authenticate(UserFactory(username="second-manager", role="sales manager"))
    return first, second


def _current(scenario) -> list[tuple[int, int]]:
    return sorted(AccountAssignment.objects.filter(scenario=scenario, valid_to__isnull=True)
                  .values_list("account_id", "territory_id"))


# --- optimistic locking ------------------------------------------------------------------------------------------

def test_second_workspace_edit_from_a_stale_version_is_refused(two_managers):
    first, second = two_managers
    grid = unit_grid_scenario()
    scenario, account = grid["scenario"], grid["accounts"][0]
    url = f"/workspace/api/scenarios/{scenario.pk}/moves/accounts/"
    seen = scenario.version  # both managers loaded the map at this version

    moved = first.post(url, {"version": seen, "ids": [account.pk], "territory": grid["right"].pk}, format="json")
    assert moved.status_code == 200
    stale = second.post(url, {"version": seen, "ids": [account.pk], "territory": grid["left"].pk}, format="json")
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"
    assert "was changed by someone else" in stale.json()["message"]
    assert "Reload the map" in stale.json()["message"]
    assert AccountAssignment.objects.get(account=account, scenario=scenario, valid_to__isnull=True).territory_id \
        == grid["right"].pk  # the first edit stands; nothing was silently overwritten
    scenario.refresh_from_db()
    assert scenario.version > seen


def test_territory_update_with_a_stale_if_match_is_refused(two_managers):
    first, second = two_managers
    grid = unit_grid_scenario()
    territory = grid["left"]
    url = f"/api/v1/territories/{territory.pk}/"
    seen = territory.version

    saved = first.patch(url, {"name": "Alpha West"}, format="json", HTTP_IF_MATCH=str(seen))
    assert saved.status_code == 200
    assert saved.json()["properties"]["version"] == seen + 1
    stale = second.patch(url, {"name": "Alpha East"}, format="json", HTTP_IF_MATCH=f'"{seen}"')
    assert stale.status_code == 409
    assert stale.json() == {"code": "conflict", "message": (
        f"Territory A was changed by someone else (you have version {seen}, it is now at version {seen + 1}). "
        "Reload it to see their changes, then try again.")}
    territory.refresh_from_db()
    assert (territory.name, territory.version) == ("Alpha West", seen + 1)
    # with the current version the second manager's change goes through
    assert second.patch(url, {"name": "Alpha East"}, format="json",
                        HTTP_IF_MATCH=str(seen + 1)).status_code == 200


def test_scenario_rename_with_a_stale_if_match_is_refused(two_managers):
    first, second = two_managers
    scenario = ScenarioFactory(name="FY27")
    url = f"/api/v1/scenarios/{scenario.pk}/"
    assert first.patch(url, {"name": "FY27 draft"}, format="json", HTTP_IF_MATCH=str(scenario.version)).status_code \
        == 200
    stale = second.patch(url, {"name": "FY27 final"}, format="json", HTTP_IF_MATCH=str(scenario.version))
    assert stale.status_code == 409 and "changed by someone else" in stale.json()["message"]
    scenario.refresh_from_db()
    assert scenario.name == "FY27 draft"


# --- allocation runs take turns -----------------------------------------------------------------------------------

def _in_thread(function, results: list):
    def target():
        try:
            results.append(function())
        except Exception as exc:  # reported by the test
            results.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_an_allocation_run_waits_for_the_one_in_progress():
    grid = unit_grid_scenario(columns=3, split=1)
    scenario = grid["scenario"]
    results = []
    with transaction.atomic():
        # This connection plays a run in progress: it holds the scenario row as allocation_execute does.
        Scenario.objects.select_for_update().get(pk=scenario.pk)
        thread = _in_thread(lambda: allocation_run(scenario=Scenario.objects.get(pk=scenario.pk)), results)
        time.sleep(1.0)
        assert thread.is_alive() and results == []  # blocked on the lock, nothing written
    thread.join(timeout=60)
    assert not thread.is_alive() and isinstance(results[0], AllocationRun)


@pytest.mark.django_db(transaction=True)
def test_concurrent_allocation_runs_give_the_same_rows_as_one():
    grid = unit_grid_scenario(columns=3, split=1)
    scenario = grid["scenario"]
    allocation_run(scenario=scenario)
    expected = _current(scenario)
    assert len(expected) == len(grid["accounts"])
    results = []
    threads = [_in_thread(lambda: allocation_run(scenario=Scenario.objects.get(pk=scenario.pk)), results)
               for _ in range(3)]
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(result, AllocationRun) for result in results), results
    assert _current(scenario) == expected  # no duplicate or lost current row


# --- activation and rollback are atomic ---------------------------------------------------------------------------

@pytest.fixture
def live_and_plan(db):
    live = ScenarioFactory(name="Live", status=Scenario.Status.ACTIVE)
    plan = ScenarioFactory(name="Plan")
    return live, plan


def _statuses(*scenarios):
    return [Scenario.objects.get(pk=scenario.pk).status for scenario in scenarios]


def _fail_on(monkeypatch, action):
    import territories.services.scenarios as scenario_services

    real_event = scenario_services._event

    def failing_event(scenario, kind, *args, **kwargs):
        if kind == action:
            raise RuntimeError("the database went away")
        return real_event(scenario, kind, *args, **kwargs)

    monkeypatch.setattr(scenario_services, "_event", failing_event)


def test_activation_that_fails_half_way_changes_nothing(live_and_plan, monkeypatch):
    live, plan = live_and_plan
    _fail_on(monkeypatch, "activated")  # after the old one was archived and the new one saved
    with pytest.raises(RuntimeError):
        scenario_activate(scenario=plan)
    assert _statuses(live, plan) == ["active", "planning"]


def test_rollback_that_fails_half_way_changes_nothing(live_and_plan, monkeypatch):
    live, plan = live_and_plan
    scenario_activate(scenario=plan)
    assert _statuses(live, plan) == ["archived", "active"]
    _fail_on(monkeypatch, "activated")
    with pytest.raises(RuntimeError):
        scenario_rollback(scenario=plan)
    assert _statuses(live, plan) == ["archived", "active"]
    monkeypatch.undo()
    scenario_rollback(scenario=plan)
    assert _statuses(live, plan) == ["active", "planning"]


def test_one_active_scenario_is_a_database_constraint(live_and_plan):
    live, plan = live_and_plan
    with pytest.raises(IntegrityError, match="one_active_scenario"), transaction.atomic():
        Scenario.objects.filter(pk=plan.pk).update(status=Scenario.Status.ACTIVE)  # no service, no check
    with pytest.raises(IntegrityError, match="one_active_scenario"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE territories_scenario SET status = 'active' WHERE id = %s", [plan.pk])
    assert _statuses(live, plan) == ["active", "planning"]


def test_external_ids_are_unique_in_the_database(db):
    Account.objects.create(external_id="X-1", name="First")
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.bulk_create([Account(external_id="X-1", name="Second")])
