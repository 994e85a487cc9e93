"""The active scenario's geographic hierarchy: census divisions > states > balanced groups of counties."""

import datetime as dt
import heapq
from dataclasses import dataclass, field

import numpy as np
from django.db import connection
from simple_history.utils import bulk_create_with_history

from territories.models import Scenario, ScenarioEvent, Territory, TerritoryType, TerritoryUnit

from .constants import DIVISIONS, PALETTE, SCENARIO_NAME, STATE_DIVISION, TERRITORY_TYPES
from .geography import Geography


@dataclass
class Leaf:
    """A planned leaf territory: a contiguous group of counties inside one state."""

    state: str
    counties: list[int]
    potential: float
    code: str = ""
    name: str = ""
    color: str = ""
    territory: Territory | None = None
    neighbours: set[int] = field(default_factory=set)  # indexes of adjacent leaves


def territory_types_ensure() -> dict[str, TerritoryType]:
    """The five territory types by kind, created when missing."""
    types = {}
    for name, kind, priority, description in TERRITORY_TYPES:
        territory_type = TerritoryType.objects.filter(kind=kind).order_by("priority").first()
        if territory_type is None:
            territory_type = TerritoryType.objects.create(
                name=name, kind=kind, priority=priority, description=description
            )
        types[kind] = territory_type
    return types


def leaves_apportion(*, state_potential: dict[str, float], state_county_count: dict[str, int], total: int):
    """How many leaf territories each state gets: one each, the rest by potential (Huntington-Hill)."""
    seats = dict.fromkeys(state_potential, 1)
    heap = [(-potential / np.sqrt(2.0), state) for state, potential in sorted(state_potential.items())]
    heapq.heapify(heap)
    remaining = total - len(seats)
    while remaining > 0 and heap:
        _, state = heapq.heappop(heap)
        if seats[state] >= state_county_count[state]:
            continue
        seats[state] += 1
        remaining -= 1
        n = seats[state]
        heapq.heappush(heap, (-state_potential[state] / np.sqrt(n * (n + 1.0)), state))
    return seats


def _planar(points: np.ndarray) -> np.ndarray:
    """Lon/lat to roughly equal-distance x/y (degrees of latitude), good enough for compactness."""
    return np.column_stack([points[:, 0] * np.cos(np.radians(points[:, 1])), points[:, 1]])


def state_partition(*, counties: list[int], groups: int, potential: np.ndarray, geography: Geography,
                    rng: np.random.Generator) -> list[list[int]]:
    """Split one state's counties into `groups` contiguous groups of roughly equal potential.

    Seeds come from a potential-weighted k-means of county centroids; groups then grow over county borders,
    the group with the least potential always taking its nearest bordering county next. Counties that no
    group reaches over land (islands) go to the group with the nearest seed.
    """
    if groups <= 1:
        return [list(counties)]
    xy = _planar(geography.county_centroids[counties])
    weight = potential[counties] + max(potential[counties].mean(), 1.0) * 0.05
    # Seeds: k-means++ on potential-weighted centroids, then a few Lloyd steps.
    centers = [xy[int(np.argmax(weight))]]
    for _ in range(groups - 1):
        distance = np.min(((xy[:, None, :] - np.array(centers)[None, :, :]) ** 2).sum(axis=2), axis=1)
        score = distance * weight
        centers.append(xy[int(rng.choice(len(xy), p=score / score.sum()))] if score.sum() > 0 else xy[0])
    centers = np.array(centers)
    for _ in range(8):
        nearest = np.argmin(((xy[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2), axis=1)
        for g in range(groups):
            members = nearest == g
            if members.any():
                centers[g] = np.average(xy[members], axis=0, weights=weight[members])
    seeds: list[int] = []
    for g in range(groups):
        order = np.argsort(((xy - centers[g]) ** 2).sum(axis=1), kind="stable")
        seeds.append(next(int(i) for i in order if int(i) not in seeds))

    local = {county: i for i, county in enumerate(counties)}
    owner = np.full(len(counties), -1)
    load = np.zeros(groups)
    frontiers: list[list[tuple[float, int]]] = [[] for _ in range(groups)]

    def take(group: int, i: int) -> None:
        owner[i] = group
        load[group] += potential[counties[i]]
        for neighbour in geography.county_adjacency[counties[i]]:
            j = local.get(neighbour)
            if j is not None and owner[j] < 0:
                heapq.heappush(frontiers[group], (float(((xy[j] - xy[seeds[group]]) ** 2).sum()), j))

    for group, i in enumerate(seeds):
        take(group, i)
    while (owner < 0).any():
        for frontier in frontiers:
            while frontier and owner[frontier[0][1]] >= 0:
                heapq.heappop(frontier)
        growing = [g for g in range(groups) if frontiers[g]]
        if not growing:
            # Islands: the unassigned county nearest to any seed joins that seed's group.
            free = np.flatnonzero(owner < 0)
            distance = ((xy[free][:, None, :] - xy[seeds][None, :, :]) ** 2).sum(axis=2)
            i, group = np.unravel_index(int(np.argmin(distance)), distance.shape)
            take(int(group), int(free[i]))
            continue
        group = min(growing, key=lambda g: (load[g], g))
        _, i = heapq.heappop(frontiers[group])
        take(group, i)
    return [[counties[i] for i in np.flatnonzero(owner == g)] for g in range(groups)]


def leaves_plan(*, geography: Geography, county_potential: np.ndarray, total: int, seed: int) -> list[Leaf]:
    """The leaf territories of the demo, ordered by division, state and code."""
    rng = np.random.default_rng([seed, 2])
    by_state: dict[str, list[int]] = {}
    for index, state in enumerate(geography.county_states):
        by_state.setdefault(state, []).append(index)
    seats = leaves_apportion(
        state_potential={state: float(county_potential[c].sum()) for state, c in by_state.items()},
        state_county_count={state: len(c) for state, c in by_state.items()},
        total=total,
    )
    city_best: dict[int, int] = {}
    for city, county in enumerate(geography.city_county.tolist()):
        best = city_best.get(county)
        if best is None or geography.city_population[city] > geography.city_population[best]:
            city_best[county] = city
    leaves: list[Leaf] = []
    for _, _, states in DIVISIONS:
        for state in sorted(states):
            groups = state_partition(counties=by_state[state], groups=seats[state], potential=county_potential,
                                     geography=geography, rng=rng)
            # Number a state's territories from north-west to south-east.
            groups.sort(key=lambda g: (-round(float(geography.county_centroids[g, 1].mean()), 1),
                                       float(geography.county_centroids[g, 0].mean())))
            for number, group in enumerate(groups, start=1):
                cities = [city_best[c] for c in group if c in city_best]
                if cities:
                    anchor = geography.city_names[max(cities, key=lambda c: geography.city_population[c])]
                else:
                    biggest = max(group, key=lambda c: geography.county_land_km2[c])
                    anchor = f"{geography.county_names[biggest]} County"
                state_name = geography.state_names[state]
                name = state_name if len(groups) == 1 else f"{state_name} – {anchor}"
                leaves.append(Leaf(state=state, counties=sorted(group), potential=float(county_potential[group].sum()),
                                   code=f"{state}-{number:02d}", name=name))
    county_leaf = np.empty(len(geography.county_codes), dtype=np.int64)
    for index, leaf in enumerate(leaves):
        county_leaf[leaf.counties] = index
    for index, leaf in enumerate(leaves):
        for county in leaf.counties:
            for neighbour in geography.county_adjacency[county]:
                if county_leaf[neighbour] != index:
                    leaf.neighbours.add(int(county_leaf[neighbour]))
    # Greedy colouring: neighbours never share a colour.
    for leaf in leaves:
        used = {leaves[n].color for n in leaf.neighbours}
        leaf.color = next((c for c in PALETTE if c not in used), PALETTE[0])
    return leaves


def scenario_build(*, geography: Geography, leaves: list[Leaf], unit_ids: dict[str, int],
                   types: dict[str, TerritoryType], user=None,
                   county_units: dict[int, list[int]] | None = None) -> tuple[Scenario, dict[str, Territory]]:
    """Create the active scenario with regions, districts and leaves, link counties and build boundaries in PostGIS.

    `county_units` gives the geo units that stand for a county instead of it (its grid cells, see cells.py): by
    county index, their unit ids. Returns the scenario and its regions by division code; each leaf's `territory` is
    filled in.
    """
    county_units = county_units or {}
    now = dt.datetime.now(dt.UTC)
    scenario = Scenario.objects.create(
        name=SCENARIO_NAME, status=Scenario.Status.ACTIVE, activated_at=now, created_by=user,
        description="Demo alignment: census divisions, states and balanced groups of counties.",
    )
    ScenarioEvent.objects.bulk_create([
        ScenarioEvent(scenario=scenario, action=ScenarioEvent.Action.CREATED, actor=user,
                      detail={"source": "seed_demo"}),
        ScenarioEvent(scenario=scenario, action=ScenarioEvent.Action.ACTIVATED, actor=user),
    ])
    geography_type = types["geography"]
    used_states = {leaf.state for leaf in leaves}
    regions = {
        code: Territory(scenario=scenario, depth=0, level_name="region", name=name, code=code,
                        territory_type=geography_type, built_from_units=True)
        for code, name, states in DIVISIONS if used_states.intersection(states)
    }
    bulk_create_with_history(list(regions.values()), Territory)
    districts = {
        state: Territory(scenario=scenario, parent=regions[STATE_DIVISION[state]], depth=1, level_name="district",
                         name=geography.state_names[state], code=state, territory_type=geography_type,
                         built_from_units=True)
        for _, _, states in DIVISIONS for state in sorted(states) if state in used_states
    }
    bulk_create_with_history(list(districts.values()), Territory)
    for leaf in leaves:
        leaf.territory = Territory(scenario=scenario, parent=districts[leaf.state], depth=2, level_name="territory",
                                   name=leaf.name, code=leaf.code, territory_type=geography_type,
                                   built_from_units=True, color=leaf.color)
    bulk_create_with_history([leaf.territory for leaf in leaves], Territory)
    TerritoryUnit.objects.bulk_create(
        [TerritoryUnit(scenario=scenario, territory=leaf.territory, unit_id=unit_id)
         for leaf in leaves for c in leaf.counties
         for unit_id in county_units.get(c) or [unit_ids[geography.county_codes[c]]]],
        batch_size=5000,
    )
    boundaries_rebuild(scenario=scenario)
    return scenario, regions


def boundaries_rebuild(*, scenario: Scenario) -> None:
    """Leaf boundary = union of its counties; each parent = union of its children, all in PostGIS."""
    territory_table = Territory._meta.db_table
    # The unions are MATERIALIZED so that each runs once, whatever plan fresh tables without statistics get.
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {territory_table}")
        cursor.execute(f"ANALYZE {TerritoryUnit._meta.db_table}")
        cursor.execute(
            f"""
            WITH u AS MATERIALIZED (
                SELECT tu.territory_id, ST_Multi(ST_Union(g.geometry)) AS geometry
                FROM {TerritoryUnit._meta.db_table} tu
                JOIN territories_geounit g ON g.id = tu.unit_id
                WHERE tu.scenario_id = %s
                GROUP BY tu.territory_id
            )
            UPDATE {territory_table} t SET boundary = u.geometry
            FROM u
            WHERE t.id = u.territory_id
            """,
            [scenario.pk],
        )
        max_depth = Territory.objects.filter(scenario=scenario).order_by("-depth").values_list("depth", flat=True)[0]
        for depth in range(max_depth, 0, -1):
            cursor.execute(
                f"""
                WITH u AS MATERIALIZED (
                    SELECT parent_id, ST_Multi(ST_Union(boundary)) AS geometry
                    FROM {territory_table}
                    WHERE scenario_id = %s AND depth = %s AND parent_id IS NOT NULL AND boundary IS NOT NULL
                    GROUP BY parent_id
                )
                UPDATE {territory_table} t SET boundary = u.geometry
                FROM u
                WHERE t.id = u.parent_id AND t.built_from_units
                """,
                [scenario.pk, depth],
            )
