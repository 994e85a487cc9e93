"""A small hand-made world: an active scenario, two managers with a team and a rep each, accounts per territory."""

import datetime as dt
from types import SimpleNamespace

import pytest
from django.contrib.gis.geos import Point

from reps.services import rep_assign
from territories.models import Scenario
from tests.factories import (
    AccountAssignmentFactory,
    AccountFactory,
    RepFactory,
    ScenarioFactory,
    TeamFactory,
    TerritoryFactory,
    UserFactory,
    square,
)

AUSTIN = (-97.74, 30.27)
DALLAS = (-96.80, 32.78)


def place(territory, *, lon, lat, **fields):
    """An account at (lon, lat) currently assigned to a territory."""
    account = AccountFactory(location=Point(lon, lat, srid=4326), **fields)
    AccountAssignmentFactory(account=account, territory=territory)
    return account


@pytest.fixture
def world(db, manager_user, rep_user):
    scenario = ScenarioFactory(name="Live", status=Scenario.Status.ACTIVE)
    region = TerritoryFactory(scenario=scenario, code="R", name="Texas", level_name="region", boundary=None)
    central = TerritoryFactory(scenario=scenario, parent=region, code="R-C", name="Central",
                               boundary=square(-98.5, 29.5, 1.5))
    north = TerritoryFactory(scenario=scenario, parent=region, code="R-N", name="North",
                             boundary=square(-97.5, 32.0, 1.5))
    other_manager = UserFactory(username="other-manager", role="sales manager")
    other_rep_user = UserFactory(username="other-rep", role="sales rep")
    team = TeamFactory(name="Central team", manager=manager_user)
    other_team = TeamFactory(name="North team", manager=other_manager)
    rep = RepFactory(name="Alice Central", user=rep_user, team=team, home_location=Point(*AUSTIN, srid=4326),
                     capacity_hours=1380)
    other_rep = RepFactory(name="Bob North", user=other_rep_user, team=other_team,
                           home_location=Point(*DALLAS, srid=4326))
    start = dt.date.today() - dt.timedelta(days=60)
    rep_assign(territory=central, rep=rep, valid_from=start)
    rep_assign(territory=north, rep=other_rep, valid_from=start)
    mine = [
        place(central, lon=-97.70, lat=30.30, name="Acme Austin", tier="A"),
        place(central, lon=-97.60, lat=30.50, name="Bravo Round Rock", tier="B"),
        place(central, lon=-98.00, lat=30.00, name="Cedar San Marcos", tier="C"),
    ]
    theirs = [
        place(north, lon=-96.80, lat=32.80, name="Delta Dallas", tier="A"),
        place(north, lon=-97.30, lat=32.70, name="Echo Fort Worth", tier="B"),
    ]
    return SimpleNamespace(
        scenario=scenario, region=region, central=central, north=north, team=team, other_team=other_team,
        rep=rep, other_rep=other_rep, other_manager=other_manager, other_rep_user=other_rep_user,
        mine=mine, theirs=theirs, start=start,
    )
