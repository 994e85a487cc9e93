"""Workspace edits: moves, boundary rebuilds, undo/redo, locks, versions and refusals."""

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.db import connection

from accounts.models import AccountAssignment, TerritoryAssignmentDigest
from accounts.services import assignment_digests
from territories.models import Scenario, ScenarioEdit, Territory, TerritoryUnit
from territories.workspace import selectors, services

pytestmark = pytest.mark.django_db


def _counts(grid):
    balance = selectors.territory_balance(scenario=grid["scenario"])
    return {row["code"]: row["accounts"] for row in balance["territories"]}


def test_units_move_rebuilds_both_boundaries_and_moves_their_accounts(grid, manager_user):
    scenario, left, right = grid["scenario"], grid["left"], grid["right"]
    unit = grid["units"][2]
    edit = services.units_move(scenario_id=scenario.pk, version=1, unit_ids=[unit.pk], territory_id=left.pk,
                               actor=manager_user)

    assert TerritoryUnit.objects.get(scenario=scenario, unit=unit).territory_id == left.pk
    left.refresh_from_db()
    right.refresh_from_db()
    assert left.boundary.extent == (-100.0, 40.0, -97.0, 41.0)
    assert right.boundary.extent == (-97.0, 40.0, -96.0, 41.0)
    assert left.boundary.num_geom == 1
    assert _counts(grid) == {"A": 6, "B": 2}
    moved = AccountAssignment.objects.filter(scenario=scenario, territory=left, valid_to__isnull=True,
                                             source="geography").exclude(reason="")
    assert moved.count() == 2
    assert AccountAssignment.objects.filter(scenario=scenario, territory=right, valid_to__isnull=False).count() == 2
    assert edit.sequence == 1 and edit.kind == "move_units"
    assert edit.summary == "1 unit (2 accounts) moved to A Alpha"
    assert sorted(edit.territory_ids) == sorted([left.pk, right.pk])
    scenario.refresh_from_db()
    assert scenario.version == 2
    assert left.version == 3 and right.version == 3  # built (rebuild bumps) at 2, moved at 3


def test_undo_restores_units_boundaries_and_accounts_and_redo_reapplies(grid):
    scenario, left, right = grid["scenario"], grid["left"], grid["right"]
    services.units_move(scenario_id=scenario.pk, version=1, unit_ids=[grid["units"][2].pk], territory_id=left.pk)

    undone = services.scenario_edit_undo(scenario_id=scenario.pk, version=2)
    assert undone.is_undone
    assert _counts(grid) == {"A": 4, "B": 4}
    right.refresh_from_db()
    assert right.boundary.extent == (-98.0, 40.0, -96.0, 41.0)
    assert TerritoryUnit.objects.get(unit=grid["units"][2]).territory_id == right.pk

    redone = services.scenario_edit_redo(scenario_id=scenario.pk, version=3)
    assert not redone.is_undone
    assert _counts(grid) == {"A": 6, "B": 2}
    scenario.refresh_from_db()
    assert scenario.version == 4
    with pytest.raises(services.NothingToUndo):
        services.scenario_edit_redo(scenario_id=scenario.pk, version=4)


def test_a_new_edit_discards_the_redo_branch(grid):
    scenario, left, right = grid["scenario"], grid["left"], grid["right"]
    services.units_move(scenario_id=scenario.pk, version=1, unit_ids=[grid["units"][2].pk], territory_id=left.pk)
    services.scenario_edit_undo(scenario_id=scenario.pk, version=2)
    services.units_move(scenario_id=scenario.pk, version=3, unit_ids=[grid["units"][1].pk], territory_id=right.pk)
    assert list(ScenarioEdit.objects.filter(scenario=scenario).values_list("sequence", "is_undone")) == [(1, False)]
    assert _counts(grid) == {"A": 2, "B": 6}


def test_accounts_move_closes_the_assignment_and_opens_a_manual_one(grid):
    scenario, left, right = grid["scenario"], grid["left"], grid["right"]
    account = grid["accounts"][0]  # in A
    edit = services.accounts_move(scenario_id=scenario.pk, version=1, account_ids=[account.pk], territory_id=right.pk)

    history = list(AccountAssignment.objects.filter(account=account).order_by("valid_from"))
    assert [(a.territory_id, a.source, a.valid_to is None) for a in history] == [
        (left.pk, "geography", False), (right.pk, "manual", True)]
    assert history[0].valid_to == history[1].valid_from
    assert edit.summary == "1 account moved to B Bravo"
    assert _counts(grid) == {"A": 3, "B": 5}

    services.scenario_edit_undo(scenario_id=scenario.pk, version=2)
    assert _counts(grid) == {"A": 4, "B": 4}
    current = AccountAssignment.objects.get(account=account, valid_to__isnull=True)
    assert current.territory_id == left.pk and current.source == "manual"


def test_moves_back_and_forth_keep_the_assignment_digests_few_and_exact(grid, monkeypatch):
    monkeypatch.setattr(assignment_digests, "FOLD_SLACK_ROWS", 0)
    scenario, left, right = grid["scenario"], grid["left"], grid["right"]
    account = grid["accounts"][0]
    for version in range(1, 11):  # each move appends a row for each of the two territories
        services.accounts_move(scenario_id=scenario.pk, version=version, account_ids=[account.pk],
                               territory_id=(right if version % 2 else left).pk)

    digests = TerritoryAssignmentDigest.objects.filter(scenario=scenario)
    assert digests.count() <= 2 * 2 + 2  # folded whenever over two a territory; at most one move's rows since
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT territory_id, count(*) FROM accounts_accountassignment WHERE scenario_id = %s"
            " AND valid_to IS NULL GROUP BY 1",
            [scenario.pk],
        )
        in_force = dict(cursor.fetchall())
    kept = {}
    for row in digests:
        kept[row.territory_id] = kept.get(row.territory_id, 0) + row.rows
    assert {pk: rows for pk, rows in kept.items() if rows} == in_force == {left.pk: 4, right.pk: 4}


def test_locked_territories_refuse_moves_in_and_out(grid):
    scenario, left, right = grid["scenario"], grid["left"], grid["right"]
    services.territory_lock_set(scenario_id=scenario.pk, version=1, territory_id=right.pk, is_locked=True)
    with pytest.raises(services.TerritoryLocked, match="B Bravo is locked"):
        services.units_move(scenario_id=scenario.pk, version=2, unit_ids=[grid["units"][2].pk], territory_id=left.pk)
    with pytest.raises(services.TerritoryLocked):
        services.accounts_move(scenario_id=scenario.pk, version=2, account_ids=[grid["accounts"][0].pk],
                               territory_id=right.pk)
    assert _counts(grid) == {"A": 4, "B": 4}


def test_undo_is_refused_when_a_touched_territory_was_locked_since(grid):
    scenario, left = grid["scenario"], grid["left"]
    services.units_move(scenario_id=scenario.pk, version=1, unit_ids=[grid["units"][2].pk], territory_id=left.pk)
    services.territory_lock_set(scenario_id=scenario.pk, version=2, territory_id=left.pk, is_locked=True)
    with pytest.raises(services.TerritoryLocked):
        services.scenario_edit_undo(scenario_id=scenario.pk, version=3)


@pytest.mark.parametrize("status", [Scenario.Status.ACTIVE, Scenario.Status.ARCHIVED])
def test_active_and_archived_scenarios_are_refused_with_a_hint_to_clone(grid, status):
    scenario = grid["scenario"]
    Scenario.objects.filter(pk=scenario.pk).update(status=status)
    with pytest.raises(services.ScenarioNotEditable, match="clone it into a planning scenario"):
        services.units_move(scenario_id=scenario.pk, version=1, unit_ids=[grid["units"][2].pk],
                            territory_id=grid["left"].pk)


def test_a_stale_version_is_a_conflict(grid):
    scenario = grid["scenario"]
    services.units_move(scenario_id=scenario.pk, version=1, unit_ids=[grid["units"][2].pk],
                        territory_id=grid["left"].pk)
    with pytest.raises(services.ScenarioVersionConflict, match="you have version 1, it is now at version 2"):
        services.units_move(scenario_id=scenario.pk, version=1, unit_ids=[grid["units"][3].pk],
                            territory_id=grid["left"].pk)


def test_moving_a_far_unit_makes_a_territory_non_contiguous(grid):
    scenario = grid["scenario"]
    services.units_move(scenario_id=scenario.pk, version=1, unit_ids=[grid["units"][3].pk],
                        territory_id=grid["left"].pk)
    balance = selectors.territory_balance(scenario=scenario)
    assert [(row["code"], row["pieces"]) for row in balance["territories"]] == [("A", 2), ("B", 1)]
    assert balance["warnings"] == ["A Alpha is in 2 separate pieces"]


def test_reshape_replaces_a_drawn_boundary_and_undo_restores_it(db):
    from tests.factories import TerritoryFactory, square

    territory = TerritoryFactory(boundary=square(0, 0))
    scenario = territory.scenario
    shape = {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]]}
    edit = services.territory_reshape(scenario_id=scenario.pk, version=1, territory_id=territory.pk, geometry=shape)
    territory.refresh_from_db()
    assert territory.boundary.extent == (0.0, 0.0, 2.0, 2.0)
    assert edit.summary == f"Boundary of {territory.code} {territory.name} redrawn"
    services.scenario_edit_undo(scenario_id=scenario.pk, version=2)
    territory.refresh_from_db()
    assert territory.boundary.equals(MultiPolygon(Polygon(((0, 0), (1, 0), (1, 1), (0, 1), (0, 0)))))


def test_reshape_is_refused_for_territories_built_from_units(grid):
    shape = {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 2], [0, 0]]]}
    with pytest.raises(services.WorkspaceError, match="built from geo units"):
        services.territory_reshape(scenario_id=grid["scenario"].pk, version=1, territory_id=grid["left"].pk,
                                   geometry=shape)
    assert Territory.objects.get(pk=grid["left"].pk).boundary.extent == (-100.0, 40.0, -98.0, 41.0)


def test_balance_compares_named_account_territories_among_themselves(grid):
    from tests.factories import AccountAssignmentFactory, AccountFactory, TerritoryFactory, TerritoryTypeFactory

    scenario = grid["scenario"]
    named = TerritoryFactory(scenario=scenario, parent=grid["left"].parent, code="N", name="Key accounts",
                             boundary=None, territory_type=TerritoryTypeFactory(name="Named", kind="named"))
    for _ in range(20):  # five times a geographic territory's book
        AccountAssignmentFactory(territory=named, account=AccountFactory())

    balance = selectors.territory_balance(scenario=scenario)

    rows = {row["code"]: row for row in balance["territories"]}
    assert rows["N"]["accounts"] == 20 and rows["N"]["deviation"]["accounts"] == 0.0  # the only one of its kind
    assert (rows["A"]["deviation"]["accounts"], rows["B"]["deviation"]["accounts"]) == (0.0, 0.0)
    assert balance["summary"]["accounts"]["mean"] == 4.0  # of A and B, not pulled up by N
    assert balance["summary"]["accounts"]["max_deviation"] == 0.0
    assert balance["summary"]["accounts"]["total"] == 28
    assert balance["apart"] == [{"kind": "named", "label": "Named accounts", "territories": 1}]
    assert balance["compared"]["territories"] == 2
