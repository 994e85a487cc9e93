"""Which rep should own which territory of a scenario: a stated score, solved as an optimal assignment.

score (0 to 100) = weighted mean of three parts, each between 0 and 1:
- travel: 1 - (great-circle km from the rep's home to the territory's account centre) / travel_scale_km,
  floored at 0 (a rep without a home location scores 0);
- expertise: the share of the territory's accounts in the rep's industries, and the share of its accounts'
  product interests in the rep's products, averaged (industry alone when no account lists products);
- value: 1 - |territory value rank - rep seniority rank|, where the value is the territory's potential over
  the largest territory's and seniority runs from 0 (associate) to 1 (principal): senior reps score
  best on the richest territories.
The total over all pairs is maximised with scipy.optimize.linear_sum_assignment on the rectangular
territories x reps matrix: with fewer reps than territories the rest are proposed as vacancies, with more
reps some reps stay unassigned.
"""

from dataclasses import asdict, dataclass, field

import numpy as np
from django.db import connection
from scipy.optimize import linear_sum_assignment

from accounts.models import Account, AccountAssignment
from reps.models import Rep
from reps.routing import haversine_matrix
from territories.models import Scenario, Territory

DEFAULT_WEIGHTS = {"travel": 0.5, "expertise": 0.3, "value": 0.2}
TRAVEL_SCALE_KM = 250.0


@dataclass
class TerritoryProfile:
    """What matching needs to know of a territory, aggregated in SQL from its current accounts."""

    territory_id: int
    code: str
    name: str
    accounts: int
    potential: float
    centre: tuple[float, float] | None  # lon, lat: the mean of its account locations
    industries: dict[str, int] = field(default_factory=dict)
    products: dict[str, int] = field(default_factory=dict)


@dataclass
class MatchProposal:
    """One proposed owner (or a vacancy) for a territory, with the score and its parts."""

    territory_id: int
    territory: str
    rep_id: int | None
    rep: str | None
    score: float | None
    travel: float | None
    expertise: float | None
    value: float | None
    travel_km: float | None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class MatchResult:
    """A whole proposal for a scenario: one row per territory, the reps left over, and the total score."""

    scenario_id: int
    proposals: list[MatchProposal]
    unassigned_rep_ids: list[int]
    total_score: float
    weights: dict[str, float]


def territory_profiles(*, scenario: Scenario, territory_ids: list[int]) -> list[TerritoryProfile]:
    """Account count, potential, account centre and industry and product mix per territory, in two statements."""
    tables = {"assignment": AccountAssignment._meta.db_table, "account": Account._meta.db_table}
    profiles = {
        t.pk: TerritoryProfile(territory_id=t.pk, code=t.code, name=t.name, accounts=0, potential=0.0, centre=None)
        for t in Territory.objects.filter(pk__in=territory_ids).order_by("code")
    }
    current = f"""
        FROM {tables["assignment"]} asg JOIN {tables["account"]} a ON a.id = asg.account_id
        WHERE asg.scenario_id = %(scenario)s AND asg.valid_to IS NULL AND asg.territory_id = ANY(%(ids)s::bigint[])
    """
    params = {"scenario": scenario.pk, "ids": list(profiles)}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT asg.territory_id, count(*), coalesce(sum(a.potential), 0),
                       ST_X(ST_Centroid(ST_Collect(a.location))), ST_Y(ST_Centroid(ST_Collect(a.location)))
                {current} GROUP BY asg.territory_id""",
            params,
        )
        for territory_id, accounts, potential, lon, lat in cursor.fetchall():
            profile = profiles[territory_id]
            profile.accounts, profile.potential = accounts, float(potential)
            profile.centre = (lon, lat) if lon is not None else None
        cursor.execute(
            f"""SELECT asg.territory_id, 'industry', a.industry, count(*) {current} AND a.industry <> ''
                GROUP BY asg.territory_id, a.industry
                UNION ALL
                SELECT asg.territory_id, 'product', product, count(*)
                {current.replace("WHERE", ", unnest(a.products) AS product WHERE", 1)}
                GROUP BY asg.territory_id, product""",
            params,
        )
        for territory_id, kind, name, count in cursor.fetchall():
            mix = profiles[territory_id].industries if kind == "industry" else profiles[territory_id].products
            mix[name] = count
    return list(profiles.values())


def match_score_parts(
    *, territories: list[TerritoryProfile], reps: list[Rep], travel_scale_km: float = TRAVEL_SCALE_KM
) -> dict[str, np.ndarray]:
    """The three score parts and the travel distances as territories x reps matrices."""
    shape = (len(territories), len(reps))
    travel_km = np.full(shape, np.nan)
    centres = [t.centre for t in territories]
    homes = [(r.home_location.x, r.home_location.y) if r.home_location else None for r in reps]
    have_centre = [i for i, c in enumerate(centres) if c is not None]
    have_home = [j for j, h in enumerate(homes) if h is not None]
    if have_centre and have_home:
        block = haversine_matrix(np.array([centres[i] for i in have_centre]), np.array([homes[j] for j in have_home]))
        travel_km[np.ix_(have_centre, have_home)] = block
    travel = np.where(np.isnan(travel_km), 0.0, np.clip(1.0 - travel_km / travel_scale_km, 0.0, 1.0))

    industries = sorted({name for t in territories for name in t.industries} | {n for r in reps for n in r.industries})
    products = sorted({name for t in territories for name in t.products} | {n for r in reps for n in r.products})

    def shares(mixes: list[dict[str, int]], names: list[str]) -> np.ndarray:
        matrix = np.array([[mix.get(name, 0) for name in names] for mix in mixes], dtype=float).reshape(-1, len(names))
        totals = matrix.sum(axis=1, keepdims=True)
        return np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)

    def knows(lists: list[list[str]], names: list[str]) -> np.ndarray:
        return np.array([[name in set(items) for name in names] for items in lists], dtype=float).reshape(
            -1, len(names)
        )

    industry_fit = shares([t.industries for t in territories], industries) @ knows(
        [r.industries for r in reps], industries).T
    product_fit = shares([t.products for t in territories], products) @ knows([r.products for r in reps], products).T
    has_products = np.array([bool(t.products) for t in territories])[:, None]
    expertise = np.where(has_products, (industry_fit + product_fit) / 2.0, industry_fit)

    potentials = np.array([t.potential for t in territories], dtype=float)
    largest = potentials.max() if len(potentials) else 0.0
    value_rank = potentials / largest if largest > 0 else np.zeros(len(potentials))
    seniority = np.array([(r.seniority - 1) / 3.0 for r in reps], dtype=float)
    value = 1.0 - np.abs(value_rank[:, None] - seniority[None, :])
    return {"travel": travel, "expertise": expertise, "value": value, "travel_km": travel_km}


def match_solve(score: np.ndarray) -> list[tuple[int, int]]:
    """Row and column pairs that maximise the total score (rectangular matrices allowed)."""
    if score.size == 0:
        return []
    rows, columns = linear_sum_assignment(score, maximize=True)
    return list(zip(rows.tolist(), columns.tolist(), strict=True))


def rep_territory_match_proposal(
    scenario: Scenario, *, reps: list[Rep] | None = None, territory_ids: list[int] | None = None,
    weights: dict[str, float] | None = None, travel_scale_km: float = TRAVEL_SCALE_KM,
) -> MatchResult:
    """Propose an owner for every leaf territory of a scenario from the given (default: active field) reps."""
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    if any(value < 0 for value in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError("Weights must be non-negative and not all zero.")
    if territory_ids is None:
        territory_ids = list(
            Territory.objects.filter(scenario=scenario, children__isnull=True).values_list("pk", flat=True)
        )
    if reps is None:
        reps = list(Rep.objects.filter(is_active=True, role=Rep.Role.FIELD))
    territories = territory_profiles(scenario=scenario, territory_ids=territory_ids)
    parts = match_score_parts(territories=territories, reps=reps, travel_scale_km=travel_scale_km)
    total_weight = sum(weights.values())
    score = sum(weights[name] * parts[name] for name in DEFAULT_WEIGHTS) / total_weight * 100.0
    pairs = dict(match_solve(np.asarray(score)))
    proposals = []
    for row, territory in enumerate(territories):
        column = pairs.get(row)
        label = f"{territory.code} {territory.name}"
        if column is None:
            proposals.append(MatchProposal(territory.territory_id, label, None, None, None, None, None, None, None))
            continue
        km = parts["travel_km"][row, column]
        proposals.append(MatchProposal(
            territory_id=territory.territory_id, territory=label, rep_id=reps[column].pk, rep=reps[column].name,
            score=round(float(score[row, column]), 2), travel=round(float(parts["travel"][row, column]), 3),
            expertise=round(float(parts["expertise"][row, column]), 3),
            value=round(float(parts["value"][row, column]), 3),
            travel_km=None if np.isnan(km) else round(float(km), 1),
        ))
    used = set(pairs.values())
    return MatchResult(
        scenario_id=scenario.pk, proposals=proposals,
        unassigned_rep_ids=[rep.pk for column, rep in enumerate(reps) if column not in used],
        total_score=round(sum(p.score or 0.0 for p in proposals), 2), weights=weights,
    )
