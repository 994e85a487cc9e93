import datetime as dt

import pytest
from django.utils import timezone

from performance.models import Activity
from reps.coverage import (
    account_attention_annotate,
    account_attention_order,
    account_list_for_user,
    account_status,
    coverage_account_list,
    coverage_by_rep,
    coverage_by_territory,
    territory_workload,
)
from reps.models import VisitCadence
from reps.services import activity_log
from tests.factories import ActivityFactory, OpportunityFactory, TerritoryFactory
from tests.reps.conftest import place


def days_ago(days):
    return timezone.now() - dt.timedelta(days=days)


@pytest.fixture
def visited(world):
    """Central: A seen 5 days ago (within 14), B seen 40 days ago (overdue, 30.4), C never; a call does not count."""
    acme, bravo, cedar = world.mine
    ActivityFactory(account=acme, rep=world.rep, occurred_at=days_ago(5))
    ActivityFactory(account=bravo, rep=world.rep, occurred_at=days_ago(40))
    ActivityFactory(account=cedar, rep=world.rep, kind=Activity.Kind.CALL, occurred_at=days_ago(1))
    delta, echo = world.theirs
    ActivityFactory(account=delta, rep=world.other_rep, kind=Activity.Kind.MEETING, occurred_at=days_ago(2))
    return world


def test_cadences_are_seeded(db):
    assert list(VisitCadence.objects.values_list("tier", "visits_per_year")) == [
        ("A", 26), ("B", 12), ("C", 4), ("D", 1)
    ]


def test_coverage_per_territory_and_rep(visited):
    rows = {row.name: row.as_dict() for row in coverage_by_territory(scenario=visited.scenario)}
    assert rows["R-C Central"] | {"key": 0} == {
        "key": 0, "name": "R-C Central", "accounts": 3, "with_cadence": 3, "within_cadence": 1, "overdue": 1,
        "never_visited": 1, "coverage_percent": 33.3,
    }
    assert (rows["R-N North"]["within_cadence"], rows["R-N North"]["never_visited"]) == (1, 1)
    assert "R Texas" not in rows  # only leaves
    by_rep = {row.name: row for row in coverage_by_rep(scenario=visited.scenario)}
    assert (by_rep["Alice Central"].accounts, by_rep["Alice Central"].within_cadence) == (3, 1)
    scoped = coverage_by_territory(scenario=visited.scenario, territory_ids={visited.north.pk})
    assert [row.name for row in scoped] == ["R-N North"]


def test_overdue_and_never_lists(visited):
    overdue = coverage_account_list(scenario=visited.scenario, territory_ids={visited.central.pk}, status="overdue")
    assert [a.name for a in overdue] == ["Bravo Round Rock"]
    assert overdue[0].days_overdue == pytest.approx(40 - 365 / 12, abs=0.01)
    never = coverage_account_list(scenario=visited.scenario, territory_ids=None, status="never")
    assert [a.name for a in never] == ["Echo Fort Worth", "Cedar San Marcos"]  # by tier: B before C


def test_a_logged_visit_counts_at_once(visited, rep_user):
    cedar = visited.mine[2]
    activity_log(account=cedar, kind=Activity.Kind.VISIT, user=rep_user, outcome="Demo booked", notes="Met the buyer")
    [central] = coverage_by_territory(scenario=visited.scenario, territory_ids={visited.central.pk})
    assert (central.within_cadence, central.never_visited) == (2, 0)
    assert Activity.objects.get(account=cedar, kind="visit").notes == "Outcome: Demo booked\nMet the buyer"


def test_book_is_sorted_by_attention(visited, rep_user):
    acme, bravo, cedar = visited.mine
    OpportunityFactory(account=acme, rep=visited.rep)
    book = account_attention_order(account_attention_annotate(account_list_for_user(user=rep_user)))
    assert [(a.name, account_status(a), a.open_opportunities) for a in book] == [
        ("Cedar San Marcos", "never", 0), ("Bravo Round Rock", "overdue", 0), ("Acme Austin", "ok", 1),
    ]


def test_territory_workload_hours_and_index(world):
    # Two tier-A accounts 0.2 degrees of latitude apart: each 11.06 km from their centre on the spheroid.
    lone = TerritoryFactory(scenario=world.scenario, code="W", name="Workload")
    place(lone, lon=0.0, lat=0.0, tier="A")
    place(lone, lon=0.0, lat=0.2, tier="A")
    empty = TerritoryFactory(scenario=world.scenario, code="Z", name="Empty")
    rows = {row.code: row for row in territory_workload(scenario=world.scenario)}
    row = rows["W"]
    assert (row.accounts, row.visits_per_year, row.visit_hours) == (2, 52.0, 52.0)
    assert row.travel_hours == pytest.approx(2 * 26 * 11.0574 * 1.3 / 50, rel=1e-3)
    assert row.hours == pytest.approx(52 + row.travel_hours, abs=0.01)
    assert (row.rep_id, row.capacity_hours) == (None, 1400.0)
    assert row.index == pytest.approx(100 * row.hours / 1400, abs=0.05)
    assert rows["Z"].hours == 0 and rows[empty.code].accounts == 0
    central = rows["R-C"]  # A 26 x 60 + B 12 x 60 + C 4 x 45 minutes = 41 hours of visits, owned by Alice (1380 h)
    assert (central.visit_hours, central.rep_id, central.capacity_hours) == (41.0, world.rep.pk, 1380.0)
    mean = sum(r.hours for r in rows.values()) / len(rows)
    assert central.relative_index == pytest.approx(100 * central.hours / mean, abs=0.05)
