"""Generated customer accounts: clustered around real cities, with correlated size, revenue and potential."""

import datetime as dt
from dataclasses import dataclass

import numpy as np
from faker.providers.person.en_US import Provider as PersonProvider

from accounts.models import Account

from .constants import (
    CADENCES,
    INDUSTRIES,
    INDUSTRY_NOUNS,
    LEGAL_SUFFIXES,
    PRODUCTS,
    SEGMENTS,
    STATUSES,
    STREET_SUFFIXES,
    TIER_SHARES,
    TRAVEL_MINUTES,
)
from .copy import copy_columns, fixed, integers, text_array, text_field
from .geography import Geography

INDUSTRY_POTENTIAL_FACTOR = {
    "Technology": 1.3, "Financial Services": 1.25, "Healthcare": 1.15, "Manufacturing": 1.1, "Logistics": 1.0,
    "Professional Services": 1.0, "Retail": 0.9, "Construction": 0.9, "Hospitality": 0.8, "Education": 0.8,
}
SURNAMES = sorted(PersonProvider.last_names)
STREET_WORDS = ("Main", "Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Park", "Church",
                "Market", "Mill", "River", "Spring", "Center", "Commerce", "Industrial", "Highland", "Sunset")


@dataclass
class GeneratedAccounts:
    """Columns of the generated accounts, index i being account number i + 1."""

    external_id: list[str]
    name: list[str]
    street: list[str]
    city: np.ndarray  # index into the geography's cities
    state: list[str]
    lon: np.ndarray
    lat: np.ndarray
    industry: np.ndarray  # index into INDUSTRIES
    segment: np.ndarray  # index into SEGMENTS
    b2c: np.ndarray  # bool
    products: list[list[str]]
    employees: np.ndarray
    annual_revenue: np.ndarray
    potential: np.ndarray
    tier: np.ndarray  # "A".."D"
    status: np.ndarray  # index into STATUSES
    workload_hours: np.ndarray

    def __len__(self) -> int:
        return len(self.external_id)


def _jitter_on_land(*, geography: Geography, city: np.ndarray, rng: np.random.Generator):
    """City point plus a normal offset that grows with the city's size; retried closer in until it is on land."""
    population = geography.city_population[city]
    sigma_km = 1.0 + 2.5 * np.log10(1.0 + population / 5000.0)
    base_lon, base_lat = geography.city_lon[city], geography.city_lat[city]
    lon, lat = base_lon.copy(), base_lat.copy()
    states = np.array(geography.city_states())[city]
    pending = np.arange(len(city))
    for shrink in (1.0, 0.5, 0.25, 0.1):
        if not len(pending):
            break
        offsets = rng.normal(size=(len(pending), 2)) * (sigma_km[pending] * shrink)[:, None] / 111.0
        candidate_lat = base_lat[pending] + offsets[:, 0]
        candidate_lon = base_lon[pending] + offsets[:, 1] / np.cos(np.radians(base_lat[pending]))
        on_land = np.zeros(len(pending), dtype=bool)
        for state in np.unique(states[pending]):
            mask = states[pending] == state
            on_land[mask] = _contains(geography.state_shapes[state], candidate_lon[mask], candidate_lat[mask])
        lon[pending[on_land]] = candidate_lon[on_land]
        lat[pending[on_land]] = candidate_lat[on_land]
        pending = pending[~on_land]
    # What is left stays on the city point itself.
    return lon, lat, states


def _contains(shape, x, y):
    import shapely

    return shapely.contains_xy(shape, x, y)


def _weighted(rng: np.random.Generator, choices: list, size: int) -> np.ndarray:
    weights = np.array([choice[1] for choice in choices], dtype=float)
    return rng.choice(len(choices), size=size, p=weights / weights.sum())


def accounts_generate(*, geography: Geography, count: int, seed: int,
                      cadences: dict[str, tuple[int, int]] = CADENCES) -> GeneratedAccounts:
    """Draw `count` accounts; the same seed always gives the same accounts."""
    rng = np.random.default_rng([seed, 1])
    city_weights = geography.city_population**0.9
    city = rng.choice(len(city_weights), size=count, p=city_weights / city_weights.sum())
    lon, lat, states = _jitter_on_land(geography=geography, city=city, rng=rng)

    industry = _weighted(rng, INDUSTRIES, count)
    segment = _weighted(rng, [(s[0], s[1]) for s in SEGMENTS], count)
    medians = np.array([s[2] for s in SEGMENTS])[segment]
    sigmas = np.array([s[3] for s in SEGMENTS])[segment]
    employees = np.exp(np.log(medians) + sigmas * rng.standard_normal(count))
    employees = np.clip(np.rint(employees), np.array([s[4] for s in SEGMENTS])[segment],
                        np.array([s[5] for s in SEGMENTS])[segment]).astype(np.int64)
    industry_factor = np.array([INDUSTRY_POTENTIAL_FACTOR[name] for name, _ in INDUSTRIES])[industry]
    # Potential grows a little less than linearly with headcount; the noise keeps look-alikes apart.
    potential = 1200.0 * industry_factor * employees**0.85 * np.exp(0.5 * rng.standard_normal(count))
    potential = np.round(potential, -2) + 100.0
    status = _weighted(rng, STATUSES, count)
    share = rng.beta(2.0, 3.0, size=count)
    annual_revenue = np.where(status == 0, np.round(potential * share, 2), 0.0)

    small = segment == 0
    consumer_facing = np.isin(industry, [i for i, (name, _) in enumerate(INDUSTRIES)
                                         if name in ("Retail", "Hospitality", "Healthcare")])
    b2c = rng.random(count) < np.where(small & consumer_facing, 0.25, 0.02)

    size_factor = np.array([0.8, 1.2, 1.5])[segment]
    owned = rng.random((count, len(PRODUCTS))) < np.array([p for _, p in PRODUCTS])[None, :] * size_factor[:, None]
    owned[:, 0] |= ~owned.any(axis=1)
    names = [name for name, _ in PRODUCTS]
    products = [[names[j] for j in np.flatnonzero(row)] for row in owned]

    order = np.argsort(-potential, kind="stable")
    tier = np.empty(count, dtype="<U1")
    start = 0
    for label, fraction in TIER_SHARES:
        stop = count if label == TIER_SHARES[-1][0] else start + int(round(fraction * count))
        tier[order[start:stop]] = label
        start = stop
    visits = np.vectorize(lambda t: cadences[t][0])(tier) if count else np.zeros(0)
    minutes = np.vectorize(lambda t: cadences[t][1])(tier) if count else np.zeros(0)
    workload_hours = np.round(visits * (minutes + TRAVEL_MINUTES) / 60.0, 1)

    surname = rng.integers(len(SURNAMES), size=count)
    surname2 = rng.integers(len(SURNAMES), size=count)
    noun = rng.integers(6, size=count)
    suffix = rng.integers(len(LEGAL_SUFFIXES), size=count)
    style = rng.random(count)
    industry_names = [name for name, _ in INDUSTRIES]
    account_names = []
    for i in range(count):
        noun_word = INDUSTRY_NOUNS[industry_names[industry[i]]][noun[i]]
        if style[i] < 0.2:
            first = geography.city_names[city[i]]
        elif style[i] < 0.3:
            first = f"{SURNAMES[surname[i]]} & {SURNAMES[surname2[i]]}"
        else:
            first = SURNAMES[surname[i]]
        account_names.append(f"{first} {noun_word} {LEGAL_SUFFIXES[suffix[i]]}".strip())
    number = rng.integers(1, 9900, size=count)
    street_word = rng.integers(len(STREET_WORDS) + len(SURNAMES[:200]), size=count)
    street_suffix = rng.integers(len(STREET_SUFFIXES), size=count)
    words = list(STREET_WORDS) + SURNAMES[:200]
    streets = [f"{number[i]} {words[street_word[i]]} {STREET_SUFFIXES[street_suffix[i]]}" for i in range(count)]

    return GeneratedAccounts(
        external_id=[f"ACCT-{i + 1:07d}" for i in range(count)],
        name=account_names,
        street=streets,
        city=city,
        state=states.tolist(),
        lon=lon,
        lat=lat,
        industry=industry,
        segment=segment,
        b2c=b2c,
        products=products,
        employees=employees,
        annual_revenue=annual_revenue,
        potential=potential,
        tier=tier,
        status=status,
        workload_hours=workload_hours,
    )


ACCOUNT_COLUMNS = [
    "external_id", "name", "street", "city", "state", "postal_code", "country", "location", "industry", "segment",
    "customer_type", "products", "employees", "annual_revenue", "potential", "tier", "status", "workload_hours",
    "created_at", "updated_at",
]


def accounts_copy(*, accounts: GeneratedAccounts, geography: Geography, progress=None) -> None:
    """Insert the generated accounts with COPY, a chunk at a time."""
    now = dt.datetime.now(dt.UTC).isoformat()
    industry_names = np.array([name for name, _ in INDUSTRIES], dtype=object)
    segment_names = np.array([s[0] for s in SEGMENTS], dtype=object)
    status_names = np.array([s[0] for s in STATUSES], dtype=object)
    city_names = np.array(text_field(geography.city_names), dtype=object)

    def render(start, stop):
        size = stop - start
        location = [
            f"SRID=4326;POINT({x:.6f} {y:.6f})"
            for x, y in zip(accounts.lon[start:stop].tolist(), accounts.lat[start:stop].tolist(), strict=True)
        ]
        return (
            accounts.external_id[start:stop],
            text_field(accounts.name[start:stop]),
            accounts.street[start:stop],
            city_names[accounts.city[start:stop]].tolist(),
            accounts.state[start:stop],
            [""] * size,
            ["US"] * size,
            location,
            industry_names[accounts.industry[start:stop]].tolist(),
            segment_names[accounts.segment[start:stop]].tolist(),
            np.where(accounts.b2c[start:stop], Account.CustomerType.B2C, Account.CustomerType.B2B).tolist(),
            text_array(accounts.products[start:stop]),
            integers(accounts.employees[start:stop]),
            fixed(accounts.annual_revenue[start:stop]),
            fixed(accounts.potential[start:stop]),
            accounts.tier[start:stop].tolist(),
            status_names[accounts.status[start:stop]].tolist(),
            fixed(accounts.workload_hours[start:stop], 1),
            [now] * size,
            [now] * size,
        )

    copy_columns(table=Account._meta.db_table, columns=ACCOUNT_COLUMNS, rows=len(accounts), render=render,
                 progress=progress)
