"""Demo people: role logins, managers and teams per region, reps with homes inside their territories."""

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.gis.geos import Point
from faker import Faker
from simple_history.utils import bulk_create_with_history

from core import roles
from reps.models import Rep, RepAssignment, Team, VisitCadence

from .constants import (
    CADENCES,
    DEMO_EMAIL_DOMAIN,
    DEMO_PASSWORD,
    DIVISIONS,
    INDUSTRIES,
    PRODUCTS,
    STATE_DIVISION,
    WEST_DIVISIONS,
)
from .geography import Geography
from .hierarchy import Leaf, leaves_apportion


@dataclass
class Staff:
    """Who the demo created: logins, teams, field reps with the leaves they own, and the overlay reps."""

    admin: object
    manager: object
    rep_user: object
    teams: dict[str, Team]
    field_reps: list[Rep]
    rep_leaves: list[list[int]]  # leaf indexes owned by each field rep
    vacant_leaves: list[int]
    specialist: Rep | None = None
    strategic: Rep | None = None
    managers: list = field(default_factory=list)


def visit_cadences_ensure() -> dict[str, tuple[int, int]]:
    """Visit cadences by tier as (visits a year, minutes a visit): the stored ones, created when missing."""
    for tier, (visits, minutes) in CADENCES.items():
        VisitCadence.objects.get_or_create(tier=tier, defaults={"visits_per_year": visits,
                                                                "minutes_per_visit": minutes})
    return {c.tier: (c.visits_per_year, c.minutes_per_visit) for c in VisitCadence.objects.all()}


def leaves_split(*, leaves: list[Leaf], reps: int) -> list[list[int]]:
    """Cut the ordered leaves into `reps` runs of neighbouring leaves with roughly equal potential."""
    chunks: list[list[int]] = []
    current: list[int] = []
    remaining_reps, remaining_potential = reps, sum(leaf.potential for leaf in leaves)
    for i in range(len(leaves)):
        current.append(i)
        if remaining_reps == 1:
            continue
        leaves_left = len(leaves) - i - 1
        target = remaining_potential / remaining_reps
        load = sum(leaves[j].potential for j in current)
        next_half = leaves[i + 1].potential / 2 if leaves_left else 0.0
        if leaves_left == remaining_reps - 1 or load + next_half > target:
            chunks.append(current)
            remaining_reps -= 1
            remaining_potential -= load
            current = []
    if current:
        chunks.append(current)
    return chunks


def reps_to_leaves(*, leaves: list[Leaf], field_reps: int) -> list[list[int]]:
    """Leaves per field rep: within each region when there are enough reps for every region, else across them."""
    field_reps = min(field_reps, len(leaves))
    division_of = {i: STATE_DIVISION[leaf.state] for i, leaf in enumerate(leaves)}
    divisions = sorted(set(division_of.values()))
    if field_reps < 2 * len(divisions):
        return leaves_split(leaves=leaves, reps=field_reps)
    members = {d: [i for i in range(len(leaves)) if division_of[i] == d] for d in divisions}
    seats = leaves_apportion(
        state_potential={d: sum(leaves[i].potential for i in members[d]) + 1.0 for d in divisions},
        state_county_count={d: len(members[d]) for d in divisions},
        total=field_reps,
    )
    chunks = []
    for d in divisions:
        for chunk in leaves_split(leaves=[leaves[i] for i in members[d]], reps=seats[d]):
            chunks.append([members[d][j] for j in chunk])
    return chunks


def _vacancies(*, chunks: list[list[int]], leaves: list[Leaf], count: int) -> list[int]:
    vacant = []
    for _ in range(count):
        candidates = [c for c in chunks if len(c) > 1]
        if not candidates:
            break
        chunk = max(candidates, key=lambda c: (len(c), sum(leaves[i].potential for i in c)))
        leaf = min(chunk, key=lambda i: (leaves[i].potential, i))
        chunk.remove(leaf)
        vacant.append(leaf)
    return sorted(vacant)


def _username(name: str, taken: set[str]) -> str:
    base = "".join(ch for ch in name.lower().replace(" ", ".") if ch.isalnum() or ch == ".")
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}{n}", n + 1
    taken.add(candidate)
    return candidate


def staff_create(*, geography: Geography, leaves: list[Leaf], rep_count: int, seed: int, since: dt.date,
                 county_leaf: np.ndarray) -> Staff:
    """Role logins, one team per region with a manager, field reps owning leaves (1-2 vacancies), two overlays."""
    rng = np.random.default_rng([seed, 3])
    fake = Faker("en_US")
    fake.seed_instance(seed)
    groups = roles.roles_sync()
    User = get_user_model()
    password = make_password(DEMO_PASSWORD)  # hashed once: every demo login shares it
    taken = {"admin", "manager", "rep"}

    def user(username: str, first: str, last: str, role: str, **extra):
        account, _ = User.objects.update_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "password": password, "is_active": True,
                      "email": f"{username}@{DEMO_EMAIL_DOMAIN}", "is_staff": False, "is_superuser": False, **extra},
        )
        account.groups.set([groups[role]])
        return account

    admin = user("admin", "Alex", "Admin", roles.ADMIN, is_staff=True, is_superuser=True)

    special_count = 2 if rep_count >= 6 else 0
    field_count = max(1, rep_count - special_count)
    chunks = reps_to_leaves(leaves=leaves, field_reps=field_count)
    vacancy_count = 2 if len(chunks) >= 10 else (1 if len(chunks) >= 4 else 0)
    vacant = _vacancies(chunks=chunks, leaves=leaves, count=vacancy_count)

    # Cities by leaf, biggest first: a rep lives in the biggest city of their book.
    leaf_cities: dict[int, list[int]] = {}
    for city in np.argsort(-geography.city_population, kind="stable").tolist():
        leaf_cities.setdefault(int(county_leaf[geography.city_county[city]]), []).append(city)

    division_names = {code: name for code, name, _ in DIVISIONS}
    chunk_division = [STATE_DIVISION[leaves[chunk[0]].state] for chunk in chunks]
    rep_division = chunk_division[0]
    teams: dict[str, Team] = {}
    managers = []
    for code in sorted({STATE_DIVISION[leaf.state] for leaf in leaves}):
        if code == rep_division:
            manager_user = user("manager", "Morgan", "Manager", roles.SALES_MANAGER)
        else:
            first, last = fake.first_name(), fake.last_name()
            manager_user = user(_username(f"{first} {last}", taken), first, last, roles.SALES_MANAGER)
        managers.append(manager_user)
        teams[code] = Team.objects.create(name=f"{division_names[code]} team", manager=manager_user)
    manager = next(m for m in managers if m.username == "manager")

    potential_rank = np.argsort(np.argsort([-sum(leaves[i].potential for i in chunk) for chunk in chunks]))
    industry_names = [name for name, _ in INDUSTRIES]
    industry_weights = np.array([w for _, w in INDUSTRIES])
    product_names = [name for name, _ in PRODUCTS]

    def expertise():
        industries = rng.choice(len(industry_names), size=int(rng.integers(1, 3)), replace=False,
                                p=industry_weights / industry_weights.sum())
        products = rng.choice(len(product_names), size=int(rng.integers(1, 4)), replace=False)
        return [industry_names[i] for i in sorted(industries)], [product_names[i] for i in sorted(products)]

    def started():
        return since - dt.timedelta(days=int(rng.integers(0, 3000)))

    reps: list[Rep] = []
    rep_users = []
    for index, chunk in enumerate(chunks):
        first, last = fake.first_name(), fake.last_name()
        username = "rep" if index == 0 else _username(f"{first} {last}", taken)
        rep_users.append(user(username, first, last, roles.SALES_REP))
        cities = [c for leaf in chunk for c in leaf_cities.get(leaf, [])]
        home = max(cities, key=lambda c: geography.city_population[c]) if cities else None
        fraction = potential_rank[index] / max(len(chunks) - 1, 1)
        seniority = (Rep.Seniority.PRINCIPAL if fraction < 0.15 else Rep.Seniority.SENIOR if fraction < 0.45
                     else Rep.Seniority.REP if fraction < 0.8 else Rep.Seniority.ASSOCIATE)
        industries, products = expertise()
        reps.append(_rep(user=rep_users[-1], team=teams[chunk_division[index]], role=Rep.Role.FIELD,
                         geography=geography, home=home, industries=industries, products=products,
                         seniority=seniority, capacity=float(np.round(rng.normal(1400, 80), -1)),
                         start_date=started()))
    specialist = strategic = None
    if special_count:
        biggest_cities = np.argsort(-geography.city_population, kind="stable").tolist()
        states = geography.city_states()
        west = next(c for c in biggest_cities if STATE_DIVISION[states[c]] in WEST_DIVISIONS)
        east = biggest_cities[0]
        first, last = fake.first_name(), fake.last_name()
        specialist_user = user(_username(f"{first} {last}", taken), first, last, roles.SALES_REP)
        specialist = _rep(user=specialist_user, team=teams.get(STATE_DIVISION[states[west]]), role=Rep.Role.SPECIALIST,
                          geography=geography, home=west, industries=["Technology"], products=["Analytics"],
                          seniority=Rep.Seniority.SENIOR, capacity=1300.0, start_date=started())
        first, last = fake.first_name(), fake.last_name()
        strategic_user = user(_username(f"{first} {last}", taken), first, last, roles.SALES_REP)
        strategic = _rep(user=strategic_user, team=teams.get(STATE_DIVISION[states[east]]), role=Rep.Role.OVERLAY,
                         geography=geography, home=east, industries=industry_names[:3],
                         products=product_names[:3], seniority=Rep.Seniority.PRINCIPAL, capacity=1500.0,
                         start_date=started())
        reps += [specialist, strategic]
    bulk_create_with_history(reps, Rep)

    assignments = [
        RepAssignment(rep=reps[index], territory=leaves[leaf].territory, role=RepAssignment.Role.OWNER,
                      valid_from=since)
        for index, chunk in enumerate(chunks) for leaf in chunk
    ]
    assignments += [
        RepAssignment(rep=None, territory=leaves[leaf].territory, role=RepAssignment.Role.OWNER, valid_from=since,
                      note="Vacant: open headcount")
        for leaf in vacant
    ]
    bulk_create_with_history(assignments, RepAssignment)
    return Staff(admin=admin, manager=manager, rep_user=rep_users[0], teams=teams, field_reps=reps[:len(chunks)],
                 rep_leaves=chunks, vacant_leaves=vacant, specialist=specialist, strategic=strategic,
                 managers=managers)


def _rep(*, user, team, role, geography: Geography, home, industries, products, seniority, capacity,
         start_date) -> Rep:
    return Rep(
        user=user, name=f"{user.first_name} {user.last_name}", email=user.email, team=team, role=role,
        home_location=Point(float(geography.city_lon[home]), float(geography.city_lat[home]), srid=4326)
        if home is not None else None,
        home_city=f"{geography.city_names[home]}, {geography.county_states[geography.city_county[home]]}"
        if home is not None else "",
        industries=industries, products=products, seniority=seniority, capacity_hours=capacity,
        start_date=start_date,
    )
