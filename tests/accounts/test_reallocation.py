"""Edits that can move accounts re-allocate them: a territory's boundary, units or rules (a territory-scoped job
queued on commit, run by the real worker), and an account's own fields (at once, for that account)."""

import pytest
from django.contrib.gis.geos import MultiPolygon, Point

import conftest
from accounts.models import AccountAssignment, AllocationRun
from accounts.services.accounts import account_update
from accounts.services.allocation import allocation_run
from core.models import Job
from territories.models import AssignmentRule
from territories.services import (
    rule_create,
    rule_delete,
    rule_update,
    scenario_activate,
    territory_boundary_set,
    territory_units_set,
)
from tests.factories import (
    AccountFactory,
    GeoUnitFactory,
    ScenarioFactory,
    TerritoryFactory,
    TerritoryTypeFactory,
    square,
)


def current(scenario):
    return {
        a.account.external_id: (a.territory.code, a.source)
        for a in AccountAssignment.objects.filter(scenario=scenario, valid_to__isnull=True).select_related(
            "account", "territory"
        )
    }


def build_grid():
    """Region R with geography leaves W (0..1 x 0..1) and E (1..2 x 0..1); A4 lies outside both."""
    scenario = ScenarioFactory(name="Plan")
    geography = TerritoryTypeFactory(name="Geography", kind="geography", priority=30)
    region = TerritoryFactory(scenario=scenario, code="R", boundary=None, territory_type=geography)
    west = TerritoryFactory(scenario=scenario, parent=region, code="W", boundary=square(0, 0), territory_type=geography)
    east = TerritoryFactory(scenario=scenario, parent=region, code="E", boundary=square(1, 0), territory_type=geography)
    accounts = {
        "A1": AccountFactory(external_id="A1", location=Point(0.5, 0.5, srid=4326), industry="retail"),
        "A2": AccountFactory(external_id="A2", location=Point(1.5, 0.5, srid=4326), industry="healthcare"),
        "A3": AccountFactory(external_id="A3", location=Point(1.5, 0.2, srid=4326), industry="retail"),
        "A4": AccountFactory(external_id="A4", location=Point(5, 5, srid=4326), industry="healthcare"),
    }
    return scenario, region, west, east, accounts


def finished(job_id):
    return Job.objects.filter(pk=job_id, status__in=["succeeded", "failed"]).first()


def queued_allocations():
    return list(Job.objects.filter(kind=Job.Kind.ALLOCATION).order_by("pk"))


# --- end to end, on the real worker -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_a_boundary_change_reallocates_that_territory_on_the_worker(celery_worker_process):
    scenario, _region, west, _east, accounts = build_grid()
    allocation_run(scenario=scenario)
    assert current(scenario) == {"A1": ("W", "geography"), "A2": ("E", "geography"), "A3": ("E", "geography")}
    untouched = AccountAssignment.objects.get(account=accounts["A1"], valid_to__isnull=True)

    # W now also takes a square around A4 (5, 5)
    territory_boundary_set(territory=west, boundary=MultiPolygon(*square(0, 0), *square(4.5, 4.5), srid=4326))

    [job] = queued_allocations()
    job = conftest.wait_for(lambda: finished(job.pk), 60)
    assert job.status == "succeeded", job.error
    assert current(scenario) == {
        "A1": ("W", "geography"),
        "A2": ("E", "geography"),
        "A3": ("E", "geography"),
        "A4": ("W", "geography"),
    }
    run = AllocationRun.objects.get(pk=job.result["run_id"])
    assert run.summary["incremental"] is True
    assert run.summary["territory_ids"] == [west.pk]
    assert run.summary["trigger"] == "Boundary of W changed"
    assert run.summary["accounts_in_scope"] == 2  # A1 (held by W) and A4 (now inside W), not the whole book
    assert (run.summary["newly_assigned"], run.summary["changed"]) == (1, 1)
    new = AccountAssignment.objects.get(account=accounts["A4"], valid_to__isnull=True)
    assert (new.run_id, new.source) == (run.pk, "geography")
    # the account that stayed is not rewritten: same row, still open
    assert AccountAssignment.objects.get(account=accounts["A1"], valid_to__isnull=True).pk == untouched.pk


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_rule_edits_reallocate_their_territory_on_the_worker(celery_worker_process):
    scenario, region, _west, _east, accounts = build_grid()
    allocation_run(scenario=scenario)
    named = TerritoryTypeFactory(name="Named accounts", kind="named", priority=5)
    key = TerritoryFactory(scenario=scenario, parent=region, code="KEY", boundary=None, territory_type=named)
    # KEY has no rule yet: a leaf without rules or boundary takes nobody, so no job is needed for it

    def settle():
        job = queued_allocations()[-1]
        job = conftest.wait_for(lambda: finished(job.pk), 60)
        assert job.status == "succeeded", job.error
        return AllocationRun.objects.get(pk=job.result["run_id"])

    rule = rule_create(
        territory=key,
        name="Healthcare",
        within_boundary=False,
        criteria=[{"field": "industry", "op": "equals", "value": "healthcare"}],
    )
    run = settle()
    assert current(scenario) == {
        "A1": ("W", "geography"),
        "A2": ("KEY", "rule"),
        "A3": ("E", "geography"),
        "A4": ("KEY", "rule"),
    }
    assert run.summary["trigger"] == 'Rule "Healthcare" added to KEY'
    assert AccountAssignment.objects.get(account=accounts["A2"], valid_to__isnull=True).rule_id == rule.pk

    rule_update(rule=rule, criteria=[{"field": "industry", "op": "equals", "value": "retail"}])
    run = settle()
    assert current(scenario) == {
        "A1": ("KEY", "rule"),
        "A2": ("E", "geography"),
        "A3": ("KEY", "rule"),
    }
    assert run.summary["trigger"] == 'Rule "Healthcare" of KEY changed'
    # A2's move back to E was recorded by this run, and its time in KEY was closed
    back = AccountAssignment.objects.get(account=accounts["A2"], valid_to__isnull=True)
    assert back.run_id == run.pk
    assert AccountAssignment.objects.filter(account=accounts["A2"], territory=key, valid_to__isnull=False).exists()

    rule_delete(rule=AssignmentRule.objects.get(pk=rule.pk))
    run = settle()
    assert current(scenario) == {"A1": ("W", "geography"), "A2": ("E", "geography"), "A3": ("E", "geography")}
    assert run.summary["trigger"] == 'Rule "Healthcare" of KEY deleted'
    assert len(queued_allocations()) == 3


# --- when a job is queued, and what it asks for --------------------------------------------------------------------


@pytest.mark.django_db
def test_nothing_is_queued_before_the_first_run(django_capture_on_commit_callbacks):
    scenario, _region, west, _east, _accounts = build_grid()
    with django_capture_on_commit_callbacks() as callbacks:
        territory_boundary_set(territory=west, boundary=square(0, 0, 2))
        rule_create(territory=west, name="Retail", criteria=[{"field": "industry", "op": "equals", "value": "retail"}])
    assert callbacks == []
    assert queued_allocations() == []


@pytest.mark.django_db
def test_edits_queue_a_territory_scoped_run_on_commit(django_capture_on_commit_callbacks, monkeypatch):
    from accounts import tasks

    sent = []
    monkeypatch.setattr(tasks.allocation_run_task, "apply_async", lambda args, **options: sent.append(args))
    scenario, region, west, east, _accounts = build_grid()
    allocation_run(scenario=scenario)

    with django_capture_on_commit_callbacks(execute=True):
        territory_boundary_set(territory=west, boundary=square(0, 0, 1.2))
    assert sent == [(queued_allocations()[-1].pk, scenario.pk, False, None, [west.pk], "Boundary of W changed")]
    assert queued_allocations()[-1].params == {
        "scenario": scenario.pk,
        "dry_run": False,
        "territory_ids": [west.pk],
        "trigger": "Boundary of W changed",
    }
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        territory_boundary_set(territory=west, boundary=square(0, 0), reallocate=False)  # the caller runs it
    assert sent == []

    # units: every territory that lost or gained a unit is re-allocated
    units = [GeoUnitFactory(code=f"U{i}", geometry=square(i, 0)) for i in range(2)]
    territory_units_set(territory=east, unit_ids=[units[1].pk], reallocate=False)
    territory_units_set(territory=west, unit_ids=[units[0].pk], reallocate=False)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        territory_units_set(territory=west, unit_ids=[units[1].pk], mode="add")
    assert [args[4] for args in sent] == [sorted([west.pk, east.pk])]

    # a rule on a parent: the run is scoped to it (the allocation plan widens that to the leaves below)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        rule = rule_create(territory=region, name="Everything", applies_to_children=True)
        rule_update(rule=rule, name="Renamed only")  # a name moves nobody: no run
        rule_update(rule=rule, priority=7)
        rule_update(rule=rule, is_active=False)
        rule_update(rule=rule, priority=8)  # inactive, and stays so: no run
        rule_delete(rule=rule)  # inactive: no run
    assert [(args[4], args[5]) for args in sent] == [
        ([region.pk], 'Rule "Everything" added to R'),
        ([region.pk], 'Rule "Renamed only" of R changed'),
        ([region.pk], 'Rule "Renamed only" of R changed'),
    ]


@pytest.mark.django_db
def test_a_failed_edit_queues_nothing(django_capture_on_commit_callbacks):
    from django.core.exceptions import ValidationError

    scenario, _region, west, _east, _accounts = build_grid()
    allocation_run(scenario=scenario)
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ValidationError):
        rule_create(territory=west, name="Bad", criteria=[{"field": "colour", "op": "equals", "value": "red"}])
    assert callbacks == []
    assert queued_allocations() == []


@pytest.mark.django_db
def test_an_account_edit_reallocates_that_account_at_once():
    scenario, _region, _west, _east, accounts = build_grid()
    scenario_activate(scenario=scenario)
    allocation_run(scenario=scenario)
    a1 = accounts["A1"]
    account_update(account=a1, location=Point(1.5, 0.9, srid=4326))
    assert current(scenario)["A1"] == ("E", "geography")
    moved = AccountAssignment.objects.get(account=a1, valid_to__isnull=True)
    run = AllocationRun.objects.get(pk=moved.run_id)
    assert run.summary["incremental"] is True and run.summary["accounts_in_scope"] == 1
    assert AccountAssignment.objects.filter(account=a1, territory__code="W", valid_to__isnull=False).count() == 1
    assert queued_allocations() == []  # the account's own path runs in the request, not as a job
