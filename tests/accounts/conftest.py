"""Fixtures shared by the accounts tests."""

from decimal import Decimal

import pytest
from django.contrib.gis.geos import Point

from tests.factories import AccountFactory, ScenarioFactory, TerritoryFactory, TerritoryTypeFactory, square


@pytest.fixture
def grid():
    """Region R (0..2 x 0..1) with two geography leaves W (0..1) and E (1..2); five accounts."""
    scenario = ScenarioFactory(name="Plan")
    geography = TerritoryTypeFactory(name="Geography", kind="geography", priority=30)
    region = TerritoryFactory(scenario=scenario, code="R", boundary=None, territory_type=geography)
    west = TerritoryFactory(scenario=scenario, parent=region, code="W", boundary=square(0, 0), territory_type=geography)
    east = TerritoryFactory(scenario=scenario, parent=region, code="E", boundary=square(1, 0), territory_type=geography)
    accounts = {
        "A1": AccountFactory(external_id="A1", location=Point(0.5, 0.5, srid=4326), industry="retail"),
        "A2": AccountFactory(external_id="A2", location=Point(1.5, 0.5, srid=4326), industry="healthcare"),
        "A3": AccountFactory(external_id="A3", location=Point(1.5, 0.2, srid=4326), industry="healthcare",
                             annual_revenue=Decimal("900000")),
        "A4": AccountFactory(external_id="A4", location=Point(5, 5, srid=4326), industry="retail"),
        "A5": AccountFactory(external_id="A5", location=None, industry="healthcare"),
    }
    return scenario, region, west, east, accounts
