import numpy as np
import pytest
from django.contrib.gis.geos import Point

from reps.matching import match_solve, rep_territory_match_proposal
from reps.routing import (
    haversine_matrix,
    plan_week,
    route_best,
    route_length,
    route_nearest_neighbour,
    route_two_opt,
)
from tests.factories import RepFactory, ScenarioFactory, TerritoryFactory
from tests.reps.conftest import place


def test_match_solve_finds_the_optimum_a_greedy_pick_misses():
    score = np.array([[9.0, 8.0, 0.0], [8.0, 0.0, 0.0], [0.0, 0.0, 5.0]])
    # greedy takes (0, 0) = 9 first and ends at 14; the optimum swaps the first two rows for 21
    pairs = match_solve(score)
    assert pairs == [(0, 1), (1, 0), (2, 2)]
    assert sum(score[r, c] for r, c in pairs) == 21


def test_match_solve_rectangular_leaves_a_vacancy():
    score = np.array([[1.0, 0.2], [0.9, 0.8], [0.1, 0.3]])
    assert match_solve(score) == [(0, 0), (1, 1)]


@pytest.fixture
def three_territories(db):
    scenario = ScenarioFactory(name="Plan")
    territories = []
    for index, (lon, lat) in enumerate([(-97.0, 30.0), (-95.0, 30.0), (-93.0, 30.0)]):
        territory = TerritoryFactory(scenario=scenario, code=f"M{index}", name=f"Match {index}")
        place(territory, lon=lon - 0.1, lat=lat, industry="software", products=["cloud"], potential=1000 * (index + 1))
        place(territory, lon=lon + 0.1, lat=lat, industry="retail", products=["cloud"], potential=1000 * (index + 1))
        territories.append(territory)
    return scenario, territories


def test_proposal_scores_travel_expertise_and_value(three_territories):
    scenario, (west, middle, east) = three_territories
    senior = RepFactory(name="Senior", seniority=4, home_location=Point(-93.0, 30.0, srid=4326),
                        industries=["software", "retail"], products=["cloud"])
    junior = RepFactory(name="Junior", seniority=1, home_location=Point(-97.0, 30.0, srid=4326),
                        industries=["software"], products=[])
    result = rep_territory_match_proposal(scenario, reps=[senior, junior])
    by_territory = {p.territory_id: p for p in result.proposals}
    assert by_territory[east.pk].rep_id == senior.pk
    assert by_territory[west.pk].rep_id == junior.pk
    assert by_territory[middle.pk].rep_id is None  # two reps, three territories: a vacancy is proposed
    east_row = by_territory[east.pk]
    # home at the account centre; both industries and the product known; richest territory to the principal
    assert (east_row.travel_km, east_row.travel, east_row.expertise, east_row.value, east_row.score) == (
        0.0, 1.0, 1.0, 1.0, 100.0
    )
    west_row = by_territory[west.pk]
    # half of the accounts in a known industry, no known product: (0.5 + 0) / 2; value 1 - |1/3 - 0|
    assert (west_row.travel, west_row.expertise, west_row.value) == (1.0, 0.25, pytest.approx(0.667, abs=1e-3))
    assert west_row.score == pytest.approx(100 * (0.5 * 1 + 0.3 * 0.25 + 0.2 * (2 / 3)), abs=0.01)
    assert result.unassigned_rep_ids == []


def test_proposal_with_more_reps_than_territories(three_territories):
    scenario, territories = three_territories
    reps = [RepFactory(name=f"R{i}", home_location=Point(-97.0 + 2 * i, 30.0, srid=4326)) for i in range(4)]
    result = rep_territory_match_proposal(scenario, reps=reps, weights={"travel": 1, "expertise": 0, "value": 0})
    assert [p.rep for p in result.proposals] == ["R0", "R1", "R2"]
    assert result.unassigned_rep_ids == [reps[3].pk]
    with pytest.raises(ValueError):
        rep_territory_match_proposal(scenario, reps=reps, weights={"travel": 0, "expertise": 0, "value": 0})


def test_haversine_one_degree_on_the_equator():
    assert haversine_matrix(np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]]))[0, 0] == pytest.approx(111.195, abs=1e-3)


def test_two_opt_uncrosses_a_route():
    # a unit square visited corner-to-corner makes a crossing; 2-opt turns it into the perimeter
    points = np.array([[0, 0], [0, 0.01], [0.01, 0.01], [0.01, 0], [0.0, 0.005]])
    distances = haversine_matrix(points)
    crossing = np.array([0, 1, 3, 2, 4, 0])
    improved = route_two_opt(crossing, distances)
    assert route_length(improved, distances) < route_length(crossing, distances)
    assert sorted(improved[1:-1].tolist()) == [1, 2, 3, 4] and improved[0] == improved[-1] == 0


def test_two_opt_never_worse_than_nearest_neighbour():
    rng = np.random.default_rng(7)
    for _ in range(20):
        points = rng.uniform([-98, 30], [-97, 31], size=(41, 2))
        distances = haversine_matrix(points)
        baseline = route_length(route_nearest_neighbour(distances, range(1, 41)), distances)
        assert route_length(route_best(distances, range(1, 41)), distances) <= baseline + 1e-9


def test_plan_week_respects_capacity_and_stops_per_day():
    rng = np.random.default_rng(3)
    home = (-97.7, 30.3)
    stops = rng.uniform([-98.2, 29.8], [-97.2, 30.8], size=(60, 2))
    priority = np.arange(60, 0, -1, dtype=float)  # stop 0 matters most
    plan = plan_week(home=home, stops=stops, visit_minutes=np.full(60, 45.0), priority=priority, day_minutes=360,
                     max_stops_per_day=6)
    planned = [stop for day in plan.days for stop in day.stops]
    assert len(planned) == len(set(planned))
    assert set(planned) | set(plan.unscheduled) == set(range(60))
    for day in plan.days:
        assert len(day.stops) <= 6 and day.total_minutes <= 360 + 1e-6
    assert 0 in planned  # the most important stop is always planned
    assert min(priority[planned]) >= np.median(priority[plan.unscheduled])
