"""factory_boy factories for every model, geometry included; other apps' tests import from here."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth.models import Group
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.utils import timezone

from accounts.models import Account, AccountAssignment
from core.models import User
from performance.models import Activity, Opportunity, Quota
from reps.models import Rep, RepAssignment
from territories.models import GeoUnit, GeoUnitLayer, Scenario, Territory, TerritoryType


def square(x: float, y: float, size: float = 1.0) -> MultiPolygon:
    """A lon/lat square with its south-west corner at (x, y)."""
    return MultiPolygon(Polygon(((x, y), (x + size, y), (x + size, y + size), (x, y + size), (x, y))), srid=4326)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("pass-word-123")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            from core.roles import roles_sync

            roles_sync()
            self.groups.add(Group.objects.get(name=extracted))


class ScenarioFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Scenario

    name = factory.Sequence(lambda n: f"Scenario {n}")
    status = Scenario.Status.PLANNING


class TerritoryTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TerritoryType
        django_get_or_create = ("name",)

    name = "Geography"
    kind = TerritoryType.Kind.GEOGRAPHY
    priority = 10


class TerritoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Territory

    scenario = factory.SubFactory(ScenarioFactory)
    parent = None
    name = factory.Sequence(lambda n: f"Territory {n}")
    code = factory.Sequence(lambda n: f"T{n:04d}")
    level_name = "territory"
    boundary = factory.Sequence(lambda n: square(-100 + n, 40))
    depth = factory.LazyAttribute(lambda o: (o.parent.depth + 1) if o.parent else 0)


class GeoUnitLayerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GeoUnitLayer
        django_get_or_create = ("name",)

    name = "Test units"
    kind = "grid"


class GeoUnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GeoUnit

    layer = factory.SubFactory(GeoUnitLayerFactory)
    code = factory.Sequence(lambda n: f"U{n:05d}")
    geometry = factory.Sequence(lambda n: square(-100 + n, 30))


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    external_id = factory.Sequence(lambda n: f"ACC-{n:06d}")
    name = factory.Sequence(lambda n: f"Account {n}")
    location = factory.LazyFunction(lambda: Point(-99.5, 40.5, srid=4326))
    industry = "manufacturing"
    segment = Account.Segment.MID_MARKET
    annual_revenue = Decimal("10000.00")
    potential = Decimal("50000.00")
    tier = Account.Tier.B
    workload_hours = 20.0


class AccountAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountAssignment

    account = factory.SubFactory(AccountFactory)
    territory = factory.SubFactory(TerritoryFactory)
    scenario = factory.LazyAttribute(lambda o: o.territory.scenario)
    valid_from = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=30))
    source = AccountAssignment.Source.GEOGRAPHY


class RepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rep

    name = factory.Sequence(lambda n: f"Rep {n}")
    home_location = factory.LazyFunction(lambda: Point(-99.5, 40.5, srid=4326))
    industries = factory.LazyFunction(lambda: ["manufacturing"])
    products = factory.LazyFunction(lambda: ["core"])


class RepAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RepAssignment

    rep = factory.SubFactory(RepFactory)
    territory = factory.SubFactory(TerritoryFactory)
    valid_from = factory.LazyFunction(lambda: dt.date.today() - dt.timedelta(days=90))


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    account = factory.SubFactory(AccountFactory)
    rep = factory.SubFactory(RepFactory)
    kind = Activity.Kind.VISIT
    occurred_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=10))


class OpportunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Opportunity

    account = factory.SubFactory(AccountFactory)
    rep = factory.SubFactory(RepFactory)
    name = factory.Sequence(lambda n: f"Deal {n}")
    amount = Decimal("25000.00")
    created_date = factory.LazyFunction(lambda: dt.date.today() - dt.timedelta(days=60))
    close_date = factory.LazyFunction(lambda: dt.date.today() + dt.timedelta(days=30))


class QuotaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Quota

    territory = factory.SubFactory(TerritoryFactory)
    period_start = dt.date(2026, 10, 1)
    period_end = dt.date(2026, 12, 31)
    target = Decimal("100000.00")


# --- reps (issue 6): teams and visit cadences -------------------------------------------------------------------
class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "reps.Team"
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class VisitCadenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "reps.VisitCadence"
        django_get_or_create = ("tier",)

    tier = "B"
    visits_per_year = 12
    minutes_per_visit = 60


# ---- map workspace (tests/workspace) ----
class TerritoryUnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "territories.TerritoryUnit"

    territory = factory.SubFactory(TerritoryFactory)
    scenario = factory.LazyAttribute(lambda o: o.territory.scenario)
    unit = factory.SubFactory(GeoUnitFactory)


def unit_grid_scenario(*, columns: int = 4, rows: int = 1, split: int = 2, accounts_per_unit: int = 2, **scenario):
    """A planning scenario over a grid of 1°×1° geo units from (-100, 40): units left of column `split` in
    territory A, the rest in B; both built from units and under one region; `accounts_per_unit` accounts
    (potential 1000, revenue 100, workload 10 each) at the centre of every unit, assigned by geography."""
    from territories.services import territory_boundary_rebuild

    scenario = ScenarioFactory(**scenario)
    region = TerritoryFactory(scenario=scenario, code="R", name="Region", level_name="region", boundary=None)
    left = TerritoryFactory(scenario=scenario, parent=region, code="A", name="Alpha", built_from_units=True,
                            boundary=None, color="#4e79a7")
    right = TerritoryFactory(scenario=scenario, parent=region, code="B", name="Bravo", built_from_units=True,
                             boundary=None, color="#f28e2b")
    units, accounts = [], []
    for row in range(rows):
        for column in range(columns):
            territory = left if column < split else right
            unit = GeoUnitFactory(code=f"{scenario.pk}-{column}-{row}", name=f"Unit {column},{row}",
                                  geometry=square(-100 + column, 40 + row))
            TerritoryUnitFactory(territory=territory, unit=unit)
            units.append(unit)
            for _ in range(accounts_per_unit):
                account = AccountFactory(location=Point(-99.5 + column, 40.5 + row, srid=4326),
                                         potential=Decimal("1000"), annual_revenue=Decimal("100"), workload_hours=10)
                AccountAssignmentFactory(account=account, territory=territory)
                accounts.append(account)
    territory_boundary_rebuild(territory_ids=[left.pk, right.pk])
    for territory in (left, right):
        territory.refresh_from_db()
    return {"scenario": scenario, "region": region, "left": left, "right": right, "units": units,
            "accounts": accounts}
