import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from reps.coverage import account_list_for_user
from reps.models import RepAssignment
from reps.selectors import (
    rep_editable_list,
    rep_list,
    territory_ids_for_user,
    territory_ids_staffable,
    territory_owner,
    territory_vacancy_list,
)
from reps.services import match_accept, rep_assign, rep_update
from tests.factories import RepFactory, TerritoryFactory


def test_manager_sees_only_reps_and_territories_of_their_teams(world, manager_user):
    assert list(rep_list(user=manager_user)) == [world.rep]
    assert list(rep_editable_list(user=manager_user)) == [world.rep]
    assert territory_ids_for_user(user=manager_user) == {world.central.pk}
    assert territory_ids_for_user(user=world.other_manager) == {world.north.pk}


def test_admin_sees_everything(world, admin_user):
    assert set(rep_list(user=admin_user)) == {world.rep, world.other_rep}
    assert territory_ids_for_user(user=admin_user) is None
    assert account_list_for_user(user=admin_user).count() == 5


def test_rep_sees_own_profile_and_book_only(world, rep_user):
    assert list(rep_list(user=rep_user)) == [world.rep]
    assert list(rep_editable_list(user=rep_user)) == []
    assert set(account_list_for_user(user=rep_user)) == set(world.mine)
    assert set(account_list_for_user(user=world.other_rep_user)) == set(world.theirs)


def test_a_region_owner_covers_the_whole_subtree(world, manager_user):
    rep_assign(territory=world.region, rep=world.rep, role=RepAssignment.Role.OVERLAY, valid_from=world.start)
    assert territory_ids_for_user(user=manager_user) == {world.region.pk, world.central.pk, world.north.pk}
    assert len(account_list_for_user(user=world.rep.user)) == 5


def test_rep_assign_closes_the_previous_owner_and_keeps_history(world, manager_user):
    newcomer = RepFactory(name="Carol", team=world.team)
    day = dt.date.today()
    rep_assign(territory=world.central, rep=newcomer, valid_from=day, user=manager_user)
    rows = list(RepAssignment.objects.filter(territory=world.central).order_by("valid_from"))
    assert [(r.rep, r.valid_from, r.valid_to) for r in rows] == [
        (world.rep, world.start, day), (newcomer, day, None)
    ]
    assert territory_owner(territory=world.central, at=day - dt.timedelta(days=1)) == world.rep
    assert territory_owner(territory=world.central, at=day) == newcomer

    later = day + dt.timedelta(days=10)
    vacancy = rep_assign(territory=world.central, rep=None, valid_from=later, user=manager_user)
    assert vacancy.is_vacancy
    assert RepAssignment.objects.filter(territory=world.central).count() == 3
    assert territory_owner(territory=world.central, at=later) is None
    # the vacancy stays in the manager's part of the hierarchy, and is listed with its last owner
    assert world.central.pk in territory_ids_for_user(user=manager_user, at=later)
    [listed] = territory_vacancy_list(scenario=world.scenario, at=later)
    assert (listed.territory, listed.since, listed.previous_rep) == (world.central, later, newcomer)


def test_rep_assign_refuses_backdating_and_repeats_are_no_ops(world):
    with pytest.raises(ValidationError):
        rep_assign(territory=world.central, rep=RepFactory(), valid_from=world.start - dt.timedelta(days=1))
    again = rep_assign(territory=world.central, rep=world.rep, valid_from=dt.date.today())
    assert again.valid_from == world.start and RepAssignment.objects.filter(territory=world.central).count() == 1


def test_overlays_sit_beside_the_owner(world):
    specialist = RepFactory(name="Spec")
    overlay = rep_assign(territory=world.central, rep=specialist, role=RepAssignment.Role.OVERLAY)
    assert rep_assign(territory=world.central, rep=specialist, role=RepAssignment.Role.OVERLAY) == overlay
    assert territory_owner(territory=world.central) == world.rep
    with pytest.raises(ValidationError):
        rep_assign(territory=world.central, rep=None, role=RepAssignment.Role.OVERLAY)


def test_managers_cannot_reach_other_teams(world, manager_user):
    with pytest.raises(PermissionDenied):
        rep_assign(territory=world.north, rep=world.rep, user=manager_user)
    with pytest.raises(PermissionDenied):
        rep_assign(territory=world.central, rep=world.other_rep, user=manager_user)
    with pytest.raises(PermissionDenied):
        rep_update(rep=world.other_rep, user=manager_user, capacity_hours=10)
    assert rep_update(rep=world.rep, user=manager_user, capacity_hours=1200).capacity_hours == 1200


def test_staffable_territories_and_match_accept(world, manager_user):
    fresh = TerritoryFactory(scenario=world.scenario, code="NEW", name="Unstaffed")
    assert set(territory_ids_staffable(user=manager_user, scenario=world.scenario)) == {world.central.pk, fresh.pk}
    newcomer = RepFactory(name="Dan", team=world.team)
    created = match_accept(pairs=[(fresh.pk, newcomer.pk)], user=manager_user)
    assert [(a.territory, a.rep, a.role, a.valid_to) for a in created] == [(fresh, newcomer, "owner", None)]
    with pytest.raises(ValidationError):
        match_accept(pairs=[(fresh.pk, newcomer.pk), (world.central.pk, newcomer.pk)], user=manager_user)
