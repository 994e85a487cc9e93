"""Admin pages for territories and accounts render, and their actions go through the services."""

import pytest

from territories.models import Scenario
from tests.factories import (
    AccountAssignmentFactory,
    AccountFactory,
    GeoUnitFactory,
    ScenarioFactory,
    TerritoryFactory,
)

pytestmark = pytest.mark.django_db

PAGES = ["territories/scenario", "territories/territory", "territories/territorytype", "territories/geounit",
         "territories/geounitlayer", "territories/territoryunit", "territories/assignmentrule", "accounts/account",
         "accounts/accountoverride", "accounts/accountassignment", "accounts/allocationrun"]


@pytest.mark.parametrize("page", PAGES)
def test_admin_changelists_render(client, admin_user, page):
    TerritoryFactory()
    AccountAssignmentFactory()
    GeoUnitFactory()
    client.force_login(admin_user)
    assert client.get(f"/admin/{page}/").status_code == 200
    assert client.get(f"/admin/{page}/add/").status_code in {200, 403}


def test_territory_change_page_has_a_leaflet_map(client, admin_user):
    territory = TerritoryFactory()
    client.force_login(admin_user)
    page = client.get(f"/admin/territories/territory/{territory.pk}/change/").content.decode()
    assert "leaflet" in page.lower()
    account = AccountFactory()
    assert client.get(f"/admin/accounts/account/{account.pk}/change/").status_code == 200


def test_activate_action_calls_the_service(client, admin_user):
    old, new = ScenarioFactory(name="Old", status="active"), ScenarioFactory(name="New")
    client.force_login(admin_user)
    client.post("/admin/territories/scenario/", {"action": "activate_scenario", "_selected_action": [new.pk]})
    assert dict(Scenario.objects.values_list("name", "status")) == {"Old": "archived", "New": "active"}
    assert Scenario.objects.get(pk=new.pk).previous_active == old
