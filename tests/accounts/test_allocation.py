"""The allocation engine on small hand-made data: boundaries, rules, priorities, overrides, history."""

import datetime as dt

import pytest
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AccountAssignment, AccountOverride
from accounts.services.allocation import allocation_preview, allocation_run
from territories.models import AssignmentRule
from tests.factories import AccountFactory, ScenarioFactory, TerritoryFactory, TerritoryTypeFactory, square

pytestmark = pytest.mark.django_db


def current(scenario):
    return {
        a.account.external_id: (a.territory.code, a.source, a.rule_id)
        for a in AccountAssignment.objects.filter(scenario=scenario, valid_to__isnull=True).select_related(
            "account", "territory")
    }


def test_geography_only_leaves_take_the_accounts_inside_them(grid):
    scenario, _region, west, east, _accounts = grid
    run = allocation_run(scenario=scenario)
    assert current(scenario) == {"A1": ("W", "geography", None), "A2": ("E", "geography", None),
                                 "A3": ("E", "geography", None)}
    assert run.summary["assigned"] == 3
    assert run.summary["unassigned"] == 2
    assert run.summary["newly_assigned"] == 3
    assert run.summary["inserted"] == 3
    assert run.summary["by_source"] == {"geography": 3}


def test_preview_changes_nothing_and_lists_moves_and_unassigned(grid):
    scenario, *_ = grid
    preview = allocation_preview(scenario=scenario)
    assert AccountAssignment.objects.count() == 0
    assert preview.is_preview
    assert sorted((m["from"], m["to"], m["accounts"]) for m in preview.summary["moves"]) == [
        (None, "E", 2), (None, "W", 1)]
    assert [a["external_id"] for a in preview.summary["unassigned_accounts"]] == ["A4", "A5"]


def test_a_border_point_is_a_multi_match_resolved_by_code_and_listed(grid):
    scenario, *_ = grid
    AccountFactory(external_id="B1", location=Point(1.0, 0.5, srid=4326))
    preview = allocation_preview(scenario=scenario)
    assert preview.summary["multi_matches"] == 1
    assert preview.summary["multi_match_accounts"] == [
        {"account_id": preview.summary["multi_match_accounts"][0]["account_id"], "external_id": "B1",
         "territory": "E", "also_matched": ["W"], "resolved_by": "territory code"}]


def test_every_account_matched_once_needs_no_sort_of_the_candidates(grid):
    scenario, _region, _west, _east, accounts = grid
    accounts["A4"].delete()
    accounts["A5"].delete()
    with CaptureQueriesContext(connection) as queries:
        run = allocation_run(scenario=scenario)
    assert run.summary["assigned"] == 3 and run.summary["unassigned"] == 0 and run.summary["multi_matches"] == 0
    assert not [q for q in queries.captured_queries if "count(DISTINCT account_id)" in q["sql"]]


def test_two_accounts_counted_twice_and_two_missing_are_still_ranked(grid):
    """As many candidates as accounts (B1 and B2 on the border twice each, A4 and A5 nowhere): the hashes of
    their ids tell the counts apart, and the sort finds the two ties."""
    scenario, *_ = grid
    AccountFactory(external_id="B1", location=Point(1.0, 0.5, srid=4326))
    AccountFactory(external_id="B2", location=Point(1.0, 0.25, srid=4326))
    with CaptureQueriesContext(connection) as queries:
        run = allocation_run(scenario=scenario)
    assert [q for q in queries.captured_queries if "count(DISTINCT account_id)" in q["sql"]]
    assert run.summary["multi_matches"] == 2
    assert run.summary["assigned"] == 5 and run.summary["unassigned"] == 2
    assert {code for code, _source, _rule in current(scenario).values()} == {"W", "E"}
    assert current(scenario)["B1"][0] == current(scenario)["B2"][0] == "E"


def test_rules_type_priority_and_inheritance(grid):
    scenario, region, west, east, accounts = grid
    named = TerritoryTypeFactory(name="Named accounts", kind="named", priority=5)
    key = TerritoryFactory(scenario=scenario, parent=region, code="KEY", boundary=None, territory_type=named)
    AssignmentRule.objects.create(territory=key, name="Big ones", within_boundary=False,
                                  criteria=[{"field": "annual_revenue", "op": "range", "value": [500000, None]}])
    # A region rule inherited by the geography leaves: only healthcare, inside each leaf's own boundary.
    AssignmentRule.objects.create(territory=region, name="Healthcare", applies_to_children=True, priority=10,
                                  criteria=[{"field": "industry", "op": "equals", "value": "healthcare"}])
    run = allocation_run(scenario=scenario)
    rule_ids = dict(AssignmentRule.objects.values_list("name", "pk"))
    assert current(scenario) == {"A2": ("E", "rule", rule_ids["Healthcare"]),
                                 "A3": ("KEY", "rule", rule_ids["Big ones"])}
    assert run.summary["multi_matches"] == 1
    assert run.summary["multi_match_accounts"][0]["resolved_by"] == "territory type priority"
    reason = AccountAssignment.objects.get(account=accounts["A3"], valid_to__isnull=True).reason
    assert reason == "Also matched E; won on territory type priority."


def test_overrides_and_exclusions_survive_runs_and_history_is_kept(grid):
    scenario, region, west, east, accounts = grid
    allocation_run(scenario=scenario)
    AccountOverride.objects.create(scenario=scenario, account=accounts["A4"], territory=west, kind="assign",
                                   reason="Named by VP")
    AccountOverride.objects.create(scenario=scenario, account=accounts["A2"], territory=east, kind="exclude")
    AccountOverride.objects.create(scenario=scenario, account=accounts["A3"], territory=region, kind="exclude")
    run = allocation_run(scenario=scenario)
    assert current(scenario) == {"A1": ("W", "geography", None), "A4": ("W", "override", None)}
    assert run.summary["closed"] == 2
    assert run.summary["inserted"] == 1
    closed = AccountAssignment.objects.filter(account=accounts["A2"]).get()
    assert closed.valid_to is not None and closed.territory == east
    again = allocation_run(scenario=scenario)
    assert again.summary["changed"] == 0 and again.summary["inserted"] == 0 and again.summary["closed"] == 0


def test_incremental_run_for_one_moved_account(grid):
    scenario, _region, west, east, accounts = grid
    allocation_run(scenario=scenario)
    a1 = accounts["A1"]
    a1.location = Point(1.7, 0.7, srid=4326)
    a1.save()
    accounts["A2"].location = Point(0.2, 0.2, srid=4326)  # moved too, but not part of this incremental run
    accounts["A2"].save()
    run = allocation_run(scenario=scenario, account_ids=[a1.pk])
    assert run.summary["accounts_in_scope"] == 1
    assert run.summary["moves"] == [{"from": "W", "to": "E", "accounts": 1}]
    assert current(scenario)["A1"] == ("E", "geography", None)
    assert current(scenario)["A2"] == ("E", "geography", None)


def test_incremental_run_for_a_changed_territory(grid):
    scenario, _region, west, east, accounts = grid
    allocation_run(scenario=scenario)
    west.boundary = square(0, 0, 1.6)  # now also covers A2 (1.5, 0.5) and A3 (1.5, 0.2)
    west.save()
    run = allocation_run(scenario=scenario, territory_ids=[west.pk])
    assert run.summary["accounts_in_scope"] == 3
    # E and W both cover A2 and A3 at the same depth and type priority: the code breaks the tie (E < W)
    assert current(scenario) == {"A1": ("W", "geography", None), "A2": ("E", "geography", None),
                                 "A3": ("E", "geography", None)}
    assert run.summary["multi_matches"] == 2


def test_criteria_operators_compile_to_sql(grid):
    scenario, region, west, east, accounts = grid
    seg = TerritoryFactory(scenario=scenario, parent=region, code="S", boundary=None,
                           territory_type=TerritoryTypeFactory(name="Segment", kind="segment", priority=1))
    accounts["A1"].products = ["core", "analytics"]
    accounts["A1"].postal_code = "75001"
    accounts["A1"].save()
    AssignmentRule.objects.create(territory=seg, name="Mixed", within_boundary=False, logic="any", criteria=[
        {"field": "products", "op": "contains", "value": "analytics"},
        {"logic": "all", "criteria": [{"field": "industry", "op": "in", "value": ["healthcare"]},
                                      {"field": "street", "op": "is_empty", "value": True},
                                      {"field": "name", "op": "contains", "value": "ACCOUNT"}]},
    ])
    allocation_run(scenario=scenario)
    assert {k: v[0] for k, v in current(scenario).items()} == {"A1": "S", "A2": "S", "A3": "S", "A5": "S"}


def test_archived_scenarios_cannot_be_allocated():
    scenario = ScenarioFactory(status="archived")
    with pytest.raises(ValidationError, match="archived; clone it"):
        allocation_run(scenario=scenario)


def test_owner_at_a_past_date(grid):
    from accounts.selectors import account_owner_at, alignment_at
    from territories.services import scenario_activate
    from tests.factories import RepAssignmentFactory, RepFactory

    scenario, _region, west, east, accounts = grid
    scenario_activate(scenario=scenario)
    allocation_run(scenario=scenario)
    before = timezone.now()
    rep = RepFactory(name="Wendy")
    RepAssignmentFactory(rep=rep, territory=west, valid_from=dt.date(2020, 1, 1))
    a1 = accounts["A1"]
    a1.location = Point(1.5, 0.9, srid=4326)
    a1.save()
    allocation_run(scenario=scenario, account_ids=[a1.pk])
    owner_then = account_owner_at(account=a1, at=before)
    assert owner_then["territory"] == west
    assert owner_then["rep"]["name"] == "Wendy"
    assert account_owner_at(account=a1, at=timezone.now())["territory"] == east
    assert account_owner_at(account=a1, at=timezone.now() - dt.timedelta(days=3))["territory"] is None
    assert sorted(a.territory.code for a in alignment_at(at=before)) == ["E", "E", "W"]


def test_keyed_field_rules_match_like_scanned_ones(grid):
    """A rule with an equality test is evaluated through a lookup join; its other criteria still apply."""
    scenario, region, west, east, accounts = grid
    vertical = TerritoryTypeFactory(name="Vertical", kind="industry", priority=1)
    care = TerritoryFactory(scenario=scenario, parent=region, code="CARE", boundary=None, territory_type=vertical)
    AssignmentRule.objects.create(territory=care, name="Big healthcare", within_boundary=False, criteria=[
        {"field": "annual_revenue", "op": "range", "value": [100000, None]},
        {"field": "industry", "op": "in", "value": ["healthcare", "pharma"]},
    ])
    retail = TerritoryFactory(scenario=scenario, parent=region, code="SHOP", boundary=None, territory_type=vertical)
    AssignmentRule.objects.create(territory=retail, name="Retail", within_boundary=False,
                                  criteria=[{"field": "industry", "op": "equals", "value": "retail"}])
    allocation_run(scenario=scenario)
    assert {k: v[0] for k, v in current(scenario).items()} == {"A1": "SHOP", "A2": "E", "A3": "CARE", "A4": "SHOP"}


def test_ties_between_same_type_leaves_go_to_the_lower_rule_priority(grid):
    scenario, region, west, east, accounts = grid
    AssignmentRule.objects.create(territory=west, name="W retail", priority=50, within_boundary=False,
                                  criteria=[{"field": "industry", "op": "equals", "value": "retail"}])
    AssignmentRule.objects.create(territory=east, name="E retail", priority=20, within_boundary=False,
                                  criteria=[{"field": "industry", "op": "equals", "value": "retail"}])
    preview = allocation_preview(scenario=scenario)
    assert {(m["external_id"], m["territory"], m["resolved_by"]) for m in preview.summary["multi_match_accounts"]} == {
        ("A1", "E", "rule priority"), ("A4", "E", "rule priority")}
