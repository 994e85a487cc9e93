from django.contrib.admin.sites import site
from django.test import RequestFactory

from reps.models import Rep, RepAssignment


def _request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_admin_lists_are_scoped_for_managers(world, manager_user, admin_user):
    rep_admin = site._registry[Rep]
    assert list(rep_admin.get_queryset(_request(manager_user))) == [world.rep]
    assert set(rep_admin.get_queryset(_request(admin_user))) == {world.rep, world.other_rep}
    assert rep_admin.has_change_permission(_request(manager_user), world.rep)
    assert not rep_admin.has_change_permission(_request(manager_user), world.other_rep)
    assignment_admin = site._registry[RepAssignment]
    assert {a.territory for a in assignment_admin.get_queryset(_request(manager_user))} == {world.central}
    assert not assignment_admin.has_change_permission(_request(admin_user))


def test_admin_changelist_renders_for_a_staff_manager(world, client, manager_user):
    manager_user.is_staff = True
    manager_user.save()
    client.force_login(manager_user)
    response = client.get("/admin/reps/rep/")
    assert response.status_code == 200
    assert "Alice Central" in response.content.decode() and "Bob North" not in response.content.decode()
