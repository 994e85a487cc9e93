"""Scenario lifecycle: clone, activate, schedule, roll back, compare, and refusing edits outside planning."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import AccountAssignment, AccountOverride
from territories.models import AssignmentRule, Scenario, ScenarioEvent, Territory, TerritoryUnit
from territories.services import (
    rule_create,
    scenario_activate,
    scenario_activate_due,
    scenario_clone,
    scenario_compare,
    scenario_create,
    scenario_rollback,
    scenario_schedule_activation,
    territory_create,
)
from tests.factories import (
    AccountAssignmentFactory,
    AccountFactory,
    GeoUnitFactory,
    RepAssignmentFactory,
    RepFactory,
    ScenarioFactory,
    TerritoryFactory,
)

pytestmark = pytest.mark.django_db


def test_clone_copies_hierarchy_rules_units_overrides_and_assignments(manager_user):
    source = ScenarioFactory(name="2026")
    region = TerritoryFactory(scenario=source, code="R")
    leaf = TerritoryFactory(scenario=source, code="L", parent=region)
    rule = AssignmentRule.objects.create(territory=leaf, name="Retail", criteria=[
        {"field": "industry", "op": "equals", "value": "retail"}])
    TerritoryUnit.objects.create(scenario=source, territory=leaf, unit=GeoUnitFactory())
    account = AccountFactory()
    override = AccountOverride.objects.create(scenario=source, account=account, territory=leaf, reason="VIP")
    AccountAssignmentFactory(account=account, territory=leaf, source="override", override=override)
    AccountAssignmentFactory(territory=leaf, source="rule", rule=rule)
    AccountAssignmentFactory(territory=region, valid_to=timezone.now())  # history is not copied

    clone = scenario_clone(scenario=source, name="2027", created_by=manager_user)

    assert clone.status == "planning" and clone.cloned_from == source
    copies = {t.code: t for t in Territory.objects.filter(scenario=clone)}
    assert sorted(copies) == ["L", "R"]
    assert copies["L"].parent == copies["R"] and copies["L"].depth == 1
    assert copies["L"].pk != leaf.pk
    assert AssignmentRule.objects.get(territory=copies["L"]).criteria == rule.criteria
    assert TerritoryUnit.objects.filter(scenario=clone, territory=copies["L"]).count() == 1
    new_override = AccountOverride.objects.get(scenario=clone)
    assert new_override.territory == copies["L"] and new_override.reason == "VIP"
    assignments = AccountAssignment.objects.filter(scenario=clone)
    assert sorted((a.territory.code, a.source) for a in assignments) == [("L", "override"), ("L", "rule")]
    assert {a.rule_id for a in assignments if a.rule_id} == {AssignmentRule.objects.get(territory=copies["L"]).pk}
    assert {a.override_id for a in assignments if a.override_id} == {new_override.pk}
    event = clone.events.get(action="cloned")
    assert event.detail["territories"] == 2 and event.detail["assignments"] == 2
    assert copies["L"].history.count() == 1


def test_clone_keeps_the_reps_so_activating_it_leaves_every_book_in_place(manager_user):
    from reps.coverage import rep_book
    from reps.models import RepAssignment

    source = ScenarioFactory(name="2026", status="active")
    east = TerritoryFactory(scenario=source, code="E")
    west = TerritoryFactory(scenario=source, code="W")
    owner, overlay, former = RepFactory(name="Owner"), RepFactory(name="Overlay"), RepFactory(name="Former")
    RepAssignmentFactory(rep=owner, territory=east)
    RepAssignmentFactory(rep=overlay, territory=east, role="overlay")
    RepAssignmentFactory(rep=None, territory=west)  # a vacancy stays a vacancy
    RepAssignmentFactory(rep=former, territory=west, valid_from=dt.date(2025, 1, 1), valid_to=dt.date(2025, 6, 1))
    east_accounts = {AccountAssignmentFactory(territory=east).account, AccountAssignmentFactory(territory=east).account}

    clone = scenario_clone(scenario=source, name="2027", created_by=manager_user)

    copied = RepAssignment.objects.filter(territory__scenario=clone)
    assert sorted((ra.territory.code, ra.rep.name if ra.rep else None, ra.role) for ra in copied) == [
        ("E", "Overlay", "overlay"), ("E", "Owner", "owner"), ("W", None, "owner")]
    assert clone.events.get(action="cloned").detail["rep_assignments"] == 3
    assert all(ra.history.count() == 1 for ra in copied)
    scenario_activate(scenario=clone, actor=manager_user)
    assert set(rep_book(rep=owner)) == east_accounts  # the clone's own assignments, under the copied territory
    assert set(rep_book(rep=former)) == set()


def test_activate_archives_the_old_one_and_rollback_restores_it(manager_user):
    old = ScenarioFactory(name="Old")
    scenario_activate(scenario=old, actor=manager_user)
    new = ScenarioFactory(name="New")
    scenario_activate(scenario=new, actor=manager_user)
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.status, new.status, new.previous_active) == ("archived", "active", old)
    assert old.archived_at is not None

    restored = scenario_rollback(actor=manager_user)
    new.refresh_from_db()
    assert restored == old and restored.status == "active"
    assert new.status == "planning"
    assert list(ScenarioEvent.objects.filter(scenario=new).values_list("action", flat=True)) == [
        "rolled_back", "activated"]


def test_only_one_active_scenario_in_the_database():
    ScenarioFactory(status="active")
    with pytest.raises(IntegrityError), transaction.atomic():
        ScenarioFactory(status="active")


def test_rollback_without_previous_is_refused():
    scenario_activate(scenario=ScenarioFactory(name="First"))
    with pytest.raises(ValidationError, match="no previously active"):
        scenario_rollback()


def test_scheduled_activation_happens_when_due():
    current = ScenarioFactory(name="Now")
    scenario_activate(scenario=current)
    planned = ScenarioFactory(name="Next")
    when = timezone.now() + dt.timedelta(hours=1)
    scenario_schedule_activation(scenario=planned, at=when)
    assert scenario_activate_due() == []
    assert scenario_activate_due(now=when + dt.timedelta(seconds=1)) == [planned.pk]
    planned.refresh_from_db()
    assert planned.status == "active" and planned.previous_active == current
    assert planned.scheduled_activation_at is None
    with pytest.raises(ValidationError, match="must be in the future"):
        scenario_schedule_activation(scenario=ScenarioFactory(), at=timezone.now() - dt.timedelta(minutes=1))


def test_beat_schedule_exists():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="Activate scheduled scenarios")
    assert task.task == "territories.tasks.scenario_activation_due_task"
    assert (task.interval.every, task.interval.period) == (1, "minutes")


def test_edits_outside_planning_are_refused_with_a_hint_to_clone():
    active = ScenarioFactory(name="Live", status="active")
    with pytest.raises(ValidationError, match="clone it into a planning scenario"):
        territory_create(scenario=active, name="X", code="X")
    leaf = TerritoryFactory(scenario=active)
    with pytest.raises(ValidationError, match="cannot be edited"):
        rule_create(territory=leaf, name="r")


def test_create_records_an_event(manager_user):
    scenario = scenario_create(name="  Draft  ", created_by=manager_user)
    assert scenario.name == "Draft" and scenario.events.get().action == "created"


def test_compare_per_territory_and_rep():
    a, b = ScenarioFactory(name="A"), ScenarioFactory(name="B")
    a_north, a_south = TerritoryFactory(scenario=a, code="N"), TerritoryFactory(scenario=a, code="S")
    b_north, b_south = TerritoryFactory(scenario=b, code="N"), TerritoryFactory(scenario=b, code="S")
    ann, bob = RepFactory(name="Ann"), RepFactory(name="Bob")
    RepAssignmentFactory(rep=ann, territory=a_north)
    RepAssignmentFactory(rep=bob, territory=a_south)
    x = AccountFactory(annual_revenue=Decimal("100"))  # N -> S
    y = AccountFactory(annual_revenue=Decimal("50"))  # N -> N
    z = AccountFactory(annual_revenue=Decimal("7"))  # unassigned -> S
    for account, territory in ((x, a_north), (y, a_north), (x, b_south), (y, b_north), (z, b_south)):
        AccountAssignmentFactory(account=account, territory=territory)

    result = scenario_compare(scenario_a=a, scenario_b=b)

    by_code = {row["code"]: row for row in result["territories"]}
    assert (by_code["N"]["accounts_a"], by_code["N"]["accounts_b"], by_code["N"]["accounts_out"],
            by_code["N"]["revenue_out"]) == (2, 1, 1, Decimal("100"))
    assert (by_code["S"]["accounts_a"], by_code["S"]["accounts_b"], by_code["S"]["accounts_in"],
            by_code["S"]["revenue_in"]) == (0, 2, 2, Decimal("107"))
    by_rep = {row["rep"]: row for row in result["reps"]}
    assert (by_rep["Ann"]["accounts_a"], by_rep["Ann"]["accounts_b"], by_rep["Ann"]["revenue_out"]) == (
        2, 1, Decimal("100"))
    assert (by_rep["Bob"]["accounts_b"], by_rep["Bob"]["accounts_in"]) == (2, 2)
    assert result["totals"]["accounts_moved"] == 1
    assert result["totals"]["revenue_moved"] == Decimal("100")
    assert result["totals"]["accounts_changing_rep"] == 2
    assert result["totals"]["assigned_only_in_b"] == 1
    assert Scenario.objects.count() == 2
