"""The single-account alignment (lateral joins) says exactly what the annotated list says."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.selectors import ALIGNMENT_ATTRIBUTES, account_alignment_attach, account_list_with_alignment
from territories.models import Scenario
from tests.factories import (
    AccountAssignmentFactory,
    AccountFactory,
    RepAssignmentFactory,
    RepFactory,
    ScenarioFactory,
    TerritoryFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    active = ScenarioFactory(status=Scenario.Status.ACTIVE)
    region = TerritoryFactory(scenario=active, code="REG")
    leaf = TerritoryFactory(scenario=active, code="LEAF", parent=region)
    vacant = TerritoryFactory(scenario=active, code="VAC", parent=region)
    rep, former = RepFactory(name="Rita"), RepFactory(name="Former")
    today = timezone.localdate()
    RepAssignmentFactory(territory=leaf, rep=former, valid_from=today - dt.timedelta(days=90),
                         valid_to=today - dt.timedelta(days=10))
    RepAssignmentFactory(territory=leaf, rep=rep, valid_from=today - dt.timedelta(days=10))
    accounts = {
        "leaf and region (the deeper wins)": AccountFactory(),
        "region only": AccountFactory(),
        "vacant territory": AccountFactory(),
        "unassigned": AccountFactory(),
        "only in another scenario": AccountFactory(),
    }
    both = accounts["leaf and region (the deeper wins)"]
    AccountAssignmentFactory(account=both, territory=region, source="rule")
    AccountAssignmentFactory(account=both, territory=leaf, source="override", reason="named account")
    AccountAssignmentFactory(account=accounts["region only"], territory=region, source="import")
    AccountAssignmentFactory(account=accounts["vacant territory"], territory=vacant, source="rule")
    AccountAssignmentFactory(account=accounts["only in another scenario"],
                             territory=TerritoryFactory(scenario=ScenarioFactory(), code="ELSE"))
    return accounts


def _attributes(account) -> dict:
    return {name: getattr(account, name) for name in ALIGNMENT_ATTRIBUTES}


def test_attached_alignment_equals_the_annotated_one(world, manager_user):
    annotated = {account.pk: _attributes(account) for account in account_list_with_alignment(user=manager_user)}
    attached = account_alignment_attach(accounts=list(world.values()))
    for label, account in zip(world, attached, strict=True):
        assert _attributes(account) == annotated[account.pk], label
    both = attached[0]
    assert (both.current_territory_code, both.current_source, both.owner_rep_name) == ("LEAF", "override", "Rita")
    assert attached[3].current_territory_id is None and attached[3].owner_rep_id is None


def test_account_detail_api_shows_the_alignment(world, manager_user, client):
    client.force_login(manager_user)
    account = world["leaf and region (the deeper wins)"]
    payload = client.get(f"/api/v1/accounts/{account.pk}/").json()
    assert (payload["territory_code"], payload["assignment_source"], payload["owner_rep_name"]) == (
        "LEAF", "override", "Rita")
    listed = client.get("/api/v1/accounts/", {"external_id": account.external_id}).json()
    row = next(item for item in listed["results"] if item["id"] == account.pk)
    assert {key: payload[key] for key in row} == row
