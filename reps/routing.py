"""Week planning and day routes on great-circle distances, in NumPy; no Django here, so the benchmark can use it.

plan_week() takes a home and candidate stops with their visit minutes and priorities, and returns the stops
chosen for each day in visiting order:
1. choose: the highest-priority stops whose visit time fits the week, leaving a share for driving;
2. spread: sweep the chosen stops by bearing around home and cut the sweep into days of equal visit time,
   so that each day covers one sector (a classic sweep heuristic for capacitated routing);
3. route: order each day from and back to home by nearest neighbour, then improve it with 2-opt;
4. repair: while a day's visits plus driving exceed the day, drop its lowest-priority stop; then insert
   left-over stops where they fit at the least extra driving, and run 2-opt again.
"""

from dataclasses import dataclass, field

import numpy as np

EARTH_RADIUS_KM = 6371.0088
# Driving is estimated from great circles: roads are about 30 % longer, at an average 50 km/h.
ROAD_FACTOR = 1.3
AVERAGE_SPEED_KMH = 50.0


def haversine_matrix(lonlat_a: np.ndarray, lonlat_b: np.ndarray | None = None) -> np.ndarray:
    """Great-circle distances in km between every point of a and every point of b (arrays of [lon, lat])."""
    a = np.radians(np.asarray(lonlat_a, dtype=float).reshape(-1, 2))
    b = a if lonlat_b is None else np.radians(np.asarray(lonlat_b, dtype=float).reshape(-1, 2))
    dlon = b[None, :, 0] - a[:, None, 0]
    dlat = b[None, :, 1] - a[:, None, 1]
    h = np.sin(dlat / 2) ** 2 + np.cos(a[:, None, 1]) * np.cos(b[None, :, 1]) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def route_length(route: np.ndarray | list[int], distances: np.ndarray) -> float:
    """Length of a closed route given as node indices starting and ending at the depot (node 0)."""
    route = np.asarray(route, dtype=int)
    return float(distances[route[:-1], route[1:]].sum()) if len(route) > 1 else 0.0


def route_nearest_neighbour(distances: np.ndarray, nodes: list[int] | np.ndarray, depot: int = 0) -> np.ndarray:
    """Depot, then always the nearest unvisited node, then back to the depot."""
    remaining = list(nodes)
    route = [depot]
    current = depot
    while remaining:
        row = distances[current, remaining]
        position = int(np.argmin(row))
        current = remaining.pop(position)
        route.append(current)
    route.append(depot)
    return np.asarray(route, dtype=int)


def route_two_opt(route: np.ndarray, distances: np.ndarray, max_rounds: int = 10_000) -> np.ndarray:
    """Best-improvement 2-opt: reverse the segment that shortens the closed route most, until none does.

    Each round scores every pair of edges at once: for edges (a_i, b_i) and (a_j, b_j) with j > i + 1,
    reversing the path between them changes the length by d(a_i, a_j) + d(b_i, b_j) - d(a_i, b_i) - d(a_j, b_j).
    """
    route = np.asarray(route, dtype=int).copy()
    edges = len(route) - 1
    if edges < 3:
        return route
    upper = np.triu(np.ones((edges, edges), dtype=bool), k=2)
    upper[0, edges - 1] = False  # the first and last edges share the depot
    for _ in range(max_rounds):
        a, b = route[:-1], route[1:]
        edge = distances[a, b]
        delta = distances[a[:, None], a[None, :]] + distances[b[:, None], b[None, :]] - edge[:, None] - edge[None, :]
        delta = np.where(upper, delta, 0.0)
        flat = int(np.argmin(delta))
        i, j = divmod(flat, edges)
        if delta[i, j] >= -1e-9:
            break
        route[i + 1 : j + 1] = route[i + 1 : j + 1][::-1].copy()
    return route


def route_best(distances: np.ndarray, nodes: list[int] | np.ndarray, depot: int = 0) -> np.ndarray:
    """Nearest neighbour followed by 2-opt; never longer than the nearest-neighbour route it starts from."""
    return route_two_opt(route_nearest_neighbour(distances, nodes, depot), distances)


@dataclass
class DayPlan:
    """One day's stops (indices into the candidate list) in visiting order, and its driving and working time."""

    stops: list[int]
    km: float
    drive_minutes: float
    visit_minutes: float

    @property
    def total_minutes(self) -> float:
        return self.drive_minutes + self.visit_minutes


@dataclass
class WeekPlan:
    """The days of a plan and the candidates that did not fit, with the distance matrix's node layout."""

    days: list[DayPlan]
    unscheduled: list[int] = field(default_factory=list)

    @property
    def km(self) -> float:
        return sum(day.km for day in self.days)


def _sweep_days(bearings: np.ndarray, visit_minutes: np.ndarray, chosen: list[int], days: int,
                max_stops_per_day: int | None) -> list[list[int]]:
    """Cut the chosen stops, sorted by bearing from home, into `days` consecutive groups of equal visit time."""
    if not chosen:
        return [[] for _ in range(days)]
    chosen = np.asarray(chosen)
    ordered = chosen[np.argsort(bearings[chosen], kind="stable")]
    # start the sweep at the widest angular gap so no day straddles two opposite directions
    angles = bearings[ordered]
    gaps = np.diff(np.concatenate([angles, angles[:1] + 2 * np.pi]))
    ordered = np.roll(ordered, -int((np.argmax(gaps) + 1) % len(ordered)))
    cumulative = np.cumsum(visit_minutes[ordered])
    share = cumulative[-1] / days
    groups: list[list[int]] = [[] for _ in range(days)]
    for position, stop in enumerate(ordered):
        day = min(int((cumulative[position] - 1e-9) // share), days - 1) if share > 0 else 0
        while max_stops_per_day and len(groups[day]) >= max_stops_per_day and day < days - 1:
            day += 1
        groups[day].append(int(stop))
    return groups


def plan_week(
    *, home: tuple[float, float], stops: np.ndarray, visit_minutes: np.ndarray, priority: np.ndarray,
    day_minutes: float, days: int = 5, speed_kmh: float = AVERAGE_SPEED_KMH, road_factor: float = ROAD_FACTOR,
    max_stops_per_day: int | None = None, drive_share: float = 0.25,
) -> WeekPlan:
    """Choose, spread and route a week of visits; see the module docstring. stops are [lon, lat] rows."""
    stops = np.asarray(stops, dtype=float).reshape(-1, 2)
    visit_minutes = np.asarray(visit_minutes, dtype=float)
    priority = np.asarray(priority, dtype=float)
    count = len(stops)
    if count == 0:
        return WeekPlan(days=[DayPlan([], 0.0, 0.0, 0.0) for _ in range(days)])
    points = np.vstack([np.asarray(home, dtype=float).reshape(1, 2), stops])
    distances = haversine_matrix(points)  # node 0 is home, node k + 1 is stop k
    minutes_per_km = 60.0 * road_factor / speed_kmh

    # 1. choose by priority within the week's visit budget
    budget = day_minutes * days * (1.0 - drive_share)
    per_day_cap = max_stops_per_day * days if max_stops_per_day else count
    order = np.argsort(-priority, kind="stable")
    chosen, spent = [], 0.0
    for stop in order:
        if len(chosen) >= per_day_cap:
            break
        if spent + visit_minutes[stop] <= budget:
            chosen.append(int(stop))
            spent += visit_minutes[stop]
    chosen_set = set(chosen)
    left_over = [int(stop) for stop in order if int(stop) not in chosen_set]

    # 2. spread by sweep
    dlon = np.radians(stops[:, 0] - home[0]) * np.cos(np.radians(home[1]))
    bearings = np.arctan2(np.radians(stops[:, 1] - home[1]), dlon)
    groups = _sweep_days(bearings, visit_minutes, chosen, days, max_stops_per_day)

    def day_cost(nodes: list[int]) -> tuple[np.ndarray, float]:
        route = route_best(distances, [stop + 1 for stop in nodes])
        return route, route_length(route, distances) * minutes_per_km + visit_minutes[nodes].sum()

    # 3 and 4. route, then drop the least important stops of days that overrun
    routes = []
    for group in groups:
        route, minutes = day_cost(group)
        while group and minutes > day_minutes:
            weakest = min(group, key=lambda stop: priority[stop])
            group.remove(weakest)
            left_over.append(weakest)
            route, minutes = day_cost(group)
        routes.append(route)
    # insert left-overs, most important first, where they add the least time and still fit
    left_over.sort(key=lambda stop: -priority[stop])
    unscheduled = []
    for stop in left_over:
        node = stop + 1
        best = None
        for day, route in enumerate(routes):
            if max_stops_per_day and len(route) - 2 >= max_stops_per_day:
                continue
            used = route_length(route, distances) * minutes_per_km + visit_minutes[route[1:-1] - 1].sum()
            added = distances[route[:-1], node] + distances[node, route[1:]] - distances[route[:-1], route[1:]]
            position = int(np.argmin(added))
            extra = added[position] * minutes_per_km + visit_minutes[stop]
            if used + extra <= day_minutes and (best is None or extra < best[0]):
                best = (extra, day, position)
        if best is None:
            unscheduled.append(stop)
            continue
        _, day, position = best
        routes[day] = np.insert(routes[day], position + 1, node)
    result = []
    for route in routes:
        route = route_two_opt(route, distances)
        km = route_length(route, distances)
        nodes = [int(node) - 1 for node in route[1:-1]]
        result.append(DayPlan(stops=nodes, km=round(km, 3), drive_minutes=round(km * minutes_per_km, 1),
                              visit_minutes=float(visit_minutes[nodes].sum()) if nodes else 0.0))
    return WeekPlan(days=result, unscheduled=sorted(unscheduled, key=lambda stop: -priority[stop]))
