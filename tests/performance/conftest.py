"""A small hand-checked world for the KPI tests (every expected figure is worked out in test_kpi_arithmetic)."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from performance.periods import Period
from reps.models import VisitCadence
from tests.factories import (
    AccountAssignmentFactory,
    AccountFactory,
    ActivityFactory,
    OpportunityFactory,
    QuotaFactory,
    RepAssignmentFactory,
    RepFactory,
    ScenarioFactory,
    TerritoryFactory,
)

UTC = dt.UTC
Q3_2024 = Period(dt.date(2024, 7, 1), dt.date(2024, 9, 30))  # 92 days, long past: "now" plays no part


def at(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def build_world() -> SimpleNamespace:
    """Root R over leaves L1 (rep One, 100 h) and L2 (rep Two, 50 h).

    Cadence: tier A 12 visits/yr x 60 min, tier B 4/yr x 30 min, tier C none (not counted in coverage).
    L1: a1 (A, potential 100), a2 (B, 200), a3 (C, 300).  L2: b1 (A, 1000).
    """
    VisitCadence.objects.all().delete()
    VisitCadence.objects.create(tier="A", visits_per_year=12, minutes_per_visit=60)
    VisitCadence.objects.create(tier="B", visits_per_year=4, minutes_per_visit=30)
    scenario = ScenarioFactory(status="active", name="Hand-checked")
    root = TerritoryFactory(scenario=scenario, parent=None, code="R", name="Root", level_name="region",
                            boundary=None)
    l1 = TerritoryFactory(scenario=scenario, parent=root, code="L1", name="Left")
    l2 = TerritoryFactory(scenario=scenario, parent=root, code="L2", name="Right")
    one = RepFactory(name="One", capacity_hours=100, email="one@example.com")
    two = RepFactory(name="Two", capacity_hours=50, email="two@example.com")
    RepAssignmentFactory(rep=one, territory=l1, valid_from=dt.date(2024, 1, 1))
    RepAssignmentFactory(rep=two, territory=l2, valid_from=dt.date(2024, 1, 1))

    def account(territory, tier, potential, name):
        acc = AccountFactory(tier=tier, potential=Decimal(potential), name=name, external_id=name)
        AccountAssignmentFactory(account=acc, territory=territory, valid_from=at("2024-01-01"))
        return acc

    a1, a2, a3 = account(l1, "A", 100, "a1"), account(l1, "B", 200, "a2"), account(l1, "C", 300, "a3")
    b1 = account(l2, "A", 1000, "b1")
    # Coverage is judged at the period's end, 2024-10-01 00:00 America/Chicago.
    ActivityFactory(account=a1, rep=one, kind="visit", occurred_at=at("2024-09-20"))  # within 30.4 days: covered
    ActivityFactory(account=a2, rep=one, kind="visit", occurred_at=at("2024-05-01"))  # older than 91.25 days
    ActivityFactory(account=a2, rep=one, kind="call", occurred_at=at("2024-08-01"))  # an activity, not a visit
    ActivityFactory(account=b1, rep=two, kind="visit", occurred_at=at("2024-08-15"))  # in period, out of cadence
    ActivityFactory(account=b1, rep=two, kind="visit", occurred_at=at("2024-10-05"))  # after the period
    for acc, rep, stage, amount, close in [
        (a1, one, "won", 30000, "2024-08-10"), (a2, one, "lost", 10000, "2024-09-01"),
        (a3, one, "proposal", 50000, "2024-09-15"), (a1, one, "won", 20000, "2024-10-10"),
        (b1, two, "won", 90000, "2024-07-20"), (b1, two, "negotiation", 40000, "2024-09-29"),
    ]:
        close_date = dt.date.fromisoformat(close)
        OpportunityFactory(account=acc, rep=rep, stage=stage, amount=Decimal(amount), close_date=close_date,
                           created_date=close_date - dt.timedelta(days=200))
    QuotaFactory(territory=l1, period_start=dt.date(2024, 7, 1), period_end=dt.date(2024, 9, 30),
                 target=Decimal("60000"))
    # A yearly quota counts for 92 of its 366 days: 400,000 x 92 / 366 = 100,546.45.
    QuotaFactory(territory=l2, period_start=dt.date(2024, 1, 1), period_end=dt.date(2024, 12, 31),
                 target=Decimal("400000"))
    return SimpleNamespace(scenario=scenario, root=root, l1=l1, l2=l2, one=one, two=two, a1=a1, a2=a2, a3=a3, b1=b1,
                           period=Q3_2024)


@pytest.fixture
def world(db):
    return build_world()
