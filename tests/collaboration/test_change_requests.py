"""Change requests end to end on the services: impact, decision, application, conflicts, permissions."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import AccountAssignment
from collaboration.models import Notification
from collaboration.selectors.requests import (
    change_request_can_decide,
    change_request_is_stale,
    change_request_list,
)
from collaboration.selectors.threads import comment_list
from collaboration.services.change_requests import (
    change_request_create,
    change_request_decide,
    change_request_refresh,
    change_request_update,
)
from collaboration.services.comments import comment_add
from territories.models import ScenarioEdit

pytestmark = pytest.mark.django_db


def _propose_three(world, **extra):
    return change_request_create(
        user=world["rep_user"], scenario=world["scenario"], kind="move_accounts",
        payload={"account_ids": [a.pk for a in world["a"][:3]], "to_territory_id": world["t2"].pk, **extra},
        reason="Bob already visits these three plants every month",
    )


def test_a_rep_proposes_three_accounts_and_the_impact_is_computed_before_deciding(world):
    request = _propose_three(world)

    assert request.status == "pending"
    assert request.title == "Move 3 accounts to T2 South"
    assert request.territory_ids == sorted([world["t1"].pk, world["t2"].pk])
    impact = request.impact
    assert impact["moving"] == {"accounts": 3, "revenue": 60000, "potential": 180000, "workload": 60}
    rows = {row["code"]: row for row in impact["territories"]}
    assert set(rows) == {"T1", "T2"}
    assert rows["T1"]["before"] == {"accounts": 4, "revenue": 100000, "potential": 260000, "workload": 100}
    assert rows["T1"]["after"] == {"accounts": 1, "revenue": 40000, "potential": 80000, "workload": 40}
    assert rows["T2"]["before"] == {"accounts": 2, "revenue": 60000, "potential": 120000, "workload": 60}
    assert rows["T2"]["after"] == {"accounts": 5, "revenue": 120000, "potential": 300000, "workload": 120}
    reps = {row["name"]: row for row in impact["reps"]}
    assert set(reps) == {"Ann Rep", "Bob Rep"}
    assert reps["Ann Rep"]["after"]["revenue"] == 40000
    assert reps["Bob Rep"]["after"]["workload"] == 120
    balance = impact["balance"]
    assert balance["territory_count"] == 3
    assert balance["before"]["accounts"] == {"mean": 2.33, "max_deviation_pct": 71.4, "cv": 0.535}
    assert balance["after"]["accounts"] == {"mean": 2.33, "max_deviation_pct": 114.3, "cv": 0.808}
    assert balance["before"]["revenue"]["max_deviation_pct"] == 62.2
    assert balance["after"]["revenue"]["max_deviation_pct"] == 94.6
    assert [a["name"] for a in impact["moved_accounts"]] == ["a1", "a2", "a3"]
    assert impact["moved_accounts"][0]["from"] == ["T1"]
    # the manager above both territories is asked to decide; the other manager is not
    assert list(Notification.objects.filter(kind="request_filed").values_list("recipient__username", flat=True)) == [
        "manager-user"]


def test_the_manager_approves_and_the_alignment_changes_with_the_request_as_reason(world):
    request = _propose_three(world)
    manager = world["manager"]
    assert change_request_can_decide(user=manager, change_request=request)
    comment_add(user=world["rep_user"], target=request, body="@manager-user they are on Bob's route already.")

    change_request_decide(user=manager, change_request=request, decision="approve", note="Makes sense.")

    request.refresh_from_db()
    assert request.status == "approved" and request.decided_by == manager and request.applied_at is not None
    moved = AccountAssignment.objects.filter(account__in=world["a"][:3], valid_to__isnull=True)
    assert sorted(moved.values_list("account__name", "territory__code", "source")) == [
        ("a1", "T2", "manual"), ("a2", "T2", "manual"), ("a3", "T2", "manual")]
    expected_reason = f"Change request #{request.pk}: Bob already visits these three plants every month"
    assert set(moved.values_list("reason", flat=True)) == {expected_reason}
    closed = AccountAssignment.objects.filter(account__in=world["a"][:3], territory=world["t1"])
    assert all(row.valid_to is not None for row in closed)
    assert AccountAssignment.objects.get(account=world["a"][3], valid_to__isnull=True).territory == world["t1"]
    # the workspace's undo log has the move, naming the request
    edit = ScenarioEdit.objects.get(scenario=world["scenario"])
    assert edit.summary == f"3 accounts moved to T2 South (Change request #{request.pk})"
    # the scenario's history records the request as the reason of the edit
    world["scenario"].refresh_from_db()
    assert world["scenario"].history.first().history_change_reason == expected_reason
    assert request.history.first().history_change_reason == "Approved by manager-user: Makes sense."
    # both see the thread: the rep's comment and the decision
    for user in (world["rep_user"], manager):
        assert change_request_list(user=user).filter(pk=request.pk).exists()
    thread = [(c.author.username, c.body, c.is_system) for c in comment_list(target=request)]
    assert thread == [
        ("rep-user", "@manager-user they are on Bob's route already.", False),
        ("manager-user", "manager-user approved this request.\nMakes sense.", True),
    ]
    assert Notification.objects.filter(recipient=world["rep_user"], kind="request_state").count() == 1
    assert Notification.objects.filter(recipient=manager, kind="mention").count() == 1


def test_a_request_is_refused_when_the_alignment_changed_and_can_be_refreshed(world):
    request = _propose_three(world)
    # someone moves a2 on the map after the request was filed
    from territories.workspace.services import accounts_move

    accounts_move(scenario_id=world["scenario"].pk, version=None, account_ids=[world["a"][1].pk],
                  territory_id=world["t3"].pk)
    assert change_request_is_stale(change_request=request)

    with pytest.raises(ValidationError, match="This request must be refreshed"):
        change_request_decide(user=world["manager"], change_request=request, decision="approve")
    request.refresh_from_db()
    assert request.status == "pending"
    assert AccountAssignment.objects.get(account=world["a"][0], valid_to__isnull=True).territory == world["t1"]

    refreshed = change_request_refresh(user=world["rep_user"], change_request=request)
    assert not change_request_is_stale(change_request=refreshed)
    assert refreshed.impact["moving"]["accounts"] == 3  # a2 now comes from T3
    assert sorted(refreshed.territory_ids) == sorted([world["t1"].pk, world["t2"].pk, world["t3"].pk])
    # T3 belongs to another manager now: manager-user is no longer above every territory; an admin decides
    assert not change_request_can_decide(user=world["manager"], change_request=refreshed)


def test_a_rep_cannot_approve_and_another_rep_cannot_see_the_request(world):
    request = _propose_three(world)
    with pytest.raises(PermissionDenied):
        change_request_decide(user=world["rep_user"], change_request=request, decision="approve")
    with pytest.raises(PermissionDenied):
        change_request_decide(user=world["other_manager"], change_request=request, decision="approve")
    # rep B owns the destination, so is part of it; rep C is not
    assert change_request_list(user=world["other_rep_user"]).filter(pk=request.pk).exists()
    assert not change_request_list(user=world["outsider_user"]).filter(pk=request.pk).exists()
    with pytest.raises(PermissionDenied):
        comment_add(user=world["outsider_user"], target=request, body="me too")


def test_a_rep_cannot_propose_moves_between_territories_that_are_not_theirs(world):
    with pytest.raises(PermissionDenied):
        change_request_create(user=world["outsider_user"], scenario=world["scenario"], kind="move_accounts",
                              payload={"account_ids": [world["a"][0].pk], "to_territory_id": world["t2"].pk},
                              reason="grab")


def test_ask_for_changes_then_revise_then_reject(world):
    request = _propose_three(world)
    with pytest.raises(ValidationError):
        change_request_decide(user=world["manager"], change_request=request, decision="request_changes")
    change_request_decide(user=world["manager"], change_request=request, decision="request_changes",
                          note="Keep a3, it is Ann's best customer")
    request.refresh_from_db()
    assert request.status == "changes_requested"
    revised = change_request_update(user=world["rep_user"], change_request=request,
                                    payload={"account_ids": [a.pk for a in world["a"][:2]],
                                             "to_territory_id": world["t2"].pk})
    assert revised.status == "pending" and revised.impact["moving"]["accounts"] == 2
    change_request_decide(user=world["manager"], change_request=revised, decision="reject", note="Not this year")
    revised.refresh_from_db()
    assert revised.status == "rejected"
    assert AccountAssignment.objects.filter(account__in=world["a"], valid_to__isnull=True,
                                            territory=world["t1"]).count() == 4


def test_reassign_rep_request_applies_through_the_reps_service(world):
    request = change_request_create(
        user=world["manager"], scenario=world["scenario"], kind="reassign_rep",
        payload={"territory_id": world["t2"].pk, "rep_id": world["rep_a"].pk}, reason="Bob goes on leave",
    )
    reps = {row["name"]: row for row in request.impact["reps"]}
    assert reps["Bob Rep"]["after"]["accounts"] == 0
    assert reps["Ann Rep"]["after"] == {"accounts": 6, "revenue": 160000, "potential": 380000, "workload": 160}
    assert request.impact["rep_change"] == {"territory": "T2", "from": "Bob Rep", "to": "Ann Rep"}
    # the manager filed it, so someone else decides: an admin
    assert not change_request_can_decide(user=world["manager"], change_request=request)
    from tests.factories import UserFactory

    admin = UserFactory(username="boss", role="admin", is_superuser=True)
    change_request_decide(user=admin, change_request=request, decision="approve")
    owner = world["t2"].rep_assignments.filter(valid_to__isnull=True, role="owner").get()
    assert owner.rep == world["rep_a"]
    assert owner.note == f"Change request #{request.pk}: Bob goes on leave"
    assert owner.history.first().history_change_reason == owner.note
