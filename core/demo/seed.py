"""The demo data set, end to end: `demo_seed()` is what `manage.py seed_demo` runs."""

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction

from accounts.models import Account, AccountAssignment, AccountOverride, AllocationRun
from performance.models import Activity, KpiSnapshot, Opportunity, Quota
from reps.models import Rep, RepAssignment, Team
from territories.models import AssignmentRule, Scenario, ScenarioEvent, Territory, TerritoryType, TerritoryUnit

from .accounts import accounts_copy, accounts_generate
from .activity import Book, activities_copy, opportunities_copy, quotas_create
from .cells import CELL_LIMIT_SHARE, cell_layer_replace, metro_cells_plan
from .constants import DEMO_EMAIL_DOMAIN
from .geography import county_layer_ensure, geography_load
from .hierarchy import leaves_plan, scenario_build, territory_types_ensure
from .overlays import named_accounts_territory_create, product_overlay_territory_create
from .people import staff_create, visit_cadences_ensure
from .placement import demo_accounts_assign_by_geography

# Everything the demo writes; --force empties these (their history tables too) before seeding again.
DEMO_MODELS = [
    Activity, Opportunity, Quota, KpiSnapshot, AccountAssignment, AccountOverride, AllocationRun, Account,
    RepAssignment, Rep, Team, AssignmentRule, TerritoryUnit, Territory, ScenarioEvent, Scenario,
    TerritoryType,
]


@dataclass
class SeedResult:
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def demo_data_exists() -> bool:
    return Account.objects.exists()


def demo_wipe() -> None:
    """Empty the demo's tables (ids restart) and delete the demo logins; the county layer is kept for reuse."""
    tables = []
    for model in DEMO_MODELS:
        tables.append(model._meta.db_table)
        history = getattr(model, "history", None)
        if history is not None:
            tables.append(history.model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    try:
        with transaction.atomic():
            get_user_model().objects.filter(email__endswith=f"@{DEMO_EMAIL_DOMAIN}").delete()
    except DatabaseError:
        # A database behind on migrations cannot cascade the delete; the logins are updated in place instead.
        pass


class _Clock:
    def __init__(self, result: SeedResult, write: Callable[[str], None]):
        self.result, self.write, self.started = result, write, time.perf_counter()
        self.last = self.started

    def step(self, name: str, message: str) -> None:
        now = time.perf_counter()
        self.result.seconds[name] = round(now - self.last, 2)
        self.last = now
        self.write(f"{message} ({now - self.started:.1f}s)")


def demo_seed(*, accounts: int = 20_000, reps: int = 40, seed: int = 42,
              write: Callable[[str], None] = print) -> SeedResult:
    """Create the whole demo data set in one transaction; the same arguments always give the same data."""
    result = SeedResult()
    clock = _Clock(result, write)
    today = dt.date.today()
    since_date = today - dt.timedelta(days=365)
    since = dt.datetime.combine(since_date, dt.time(), tzinfo=dt.UTC)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")  # JIT compiling the big spatial statements costs more than it saves
        geography = geography_load()
        layer, unit_ids = county_layer_ensure(geography=geography, stdout=None)
        clock.step("geography", f"geography: {len(unit_ids)} counties in layer {layer.name!r}, "
                                f"{len(geography.city_names)} cities")
        types = territory_types_ensure()
        cadences = visit_cadences_ensure()

        generated = accounts_generate(geography=geography, count=accounts, seed=seed, cadences=cadences)
        clock.step("generate", f"accounts generated: {accounts}")
        accounts_copy(accounts=generated, geography=geography,
                      progress=lambda done, total: write(f"accounts {done}/{total}"))
        clock.step("accounts", "accounts loaded")

        county_potential = np.zeros(len(geography.county_codes))
        np.add.at(county_potential, geography.city_county[generated.city], generated.potential)
        special = 2 if reps >= 6 else 0
        leaf_count = len(geography.states) + max(10, reps - special)
        leaves = leaves_plan(geography=geography, county_potential=county_potential, total=leaf_count, seed=seed)
        # Where accounts are dense the territories are built from grid cells instead of whole counties (the demo's
        # stand-in for postcodes), so that the optimiser can balance them: none larger than a fifth of a territory.
        cells = metro_cells_plan(geography=geography, lon=generated.lon, lat=generated.lat,
                                 potential=generated.potential,
                                 limit=CELL_LIMIT_SHARE * float(generated.potential.sum()) / leaf_count)
        _, cell_ids = cell_layer_replace(cells=cells)
        county_units = {county: [cell_ids[cell.code] for cell in county_cells]
                        for county, county_cells in cells.items()}
        scenario, regions = scenario_build(geography=geography, leaves=leaves, unit_ids=unit_ids, types=types,
                                           county_units=county_units)
        clock.step("hierarchy", f"hierarchy: {len(regions)} regions, {len({leaf.state for leaf in leaves})} "
                                f"districts, {len(leaves)} territories; {len(cell_ids)} grid cells in "
                                f"{len(cells)} dense counties; boundaries built in PostGIS")

        placed = demo_accounts_assign_by_geography(scenario=scenario, territory_type_id=types["geography"].pk,
                                                   valid_from=since)
        clock.step("placement", f"account placement: {placed} assignments")

        county_leaf = np.empty(len(geography.county_codes), dtype=np.int64)
        for index, leaf in enumerate(leaves):
            county_leaf[leaf.counties] = index
        staff = staff_create(geography=geography, leaves=leaves, rep_count=reps, seed=seed, since=since_date,
                             county_leaf=county_leaf)
        named = named_accounts_territory_create(scenario=scenario, territory_type=types["named"],
                                                owner=staff.strategic, since=since, user=staff.admin)
        overlay = product_overlay_territory_create(scenario=scenario, territory_type=types["product"],
                                                   regions=regions, specialist=staff.specialist, since=since)
        Scenario.objects.filter(pk=scenario.pk).update(created_by=staff.admin)
        clock.step("people", f"people: {Rep.objects.count()} reps, {Team.objects.count()} teams, "
                             f"{len(staff.vacant_leaves)} vacancies")

        account_ids, account_leaf = _account_places(scenario=scenario, leaves=leaves, count=len(generated))
        books = _books(staff=staff, account_leaf=account_leaf, account_ids=account_ids, scenario=scenario,
                       named=named, overlay=overlay)
        activities = activities_copy(accounts=generated, account_ids=account_ids, books=books, seed=seed,
                                     cadences=cadences,
                                     progress=lambda done, total: write(f"activities {done}/{total}"))
        opportunities, won = opportunities_copy(
            accounts=generated, account_ids=account_ids, books=books, seed=seed,
            progress=lambda done, total: write(f"opportunities {done}/{total}"),
        )
        quotas_create(leaf_territories=[leaf.territory for leaf in leaves], account_leaf=account_leaf,
                      books=books, won=won, accounts=generated, seed=seed)
        with connection.cursor() as cursor:
            for model in (Activity, Opportunity, AccountAssignment):
                cursor.execute(f"ANALYZE {model._meta.db_table}")
        clock.step("activity", f"activity: {activities} activities, opportunities and quotas")
        # A year of KPI snapshots, so the dashboards open with trends and flags.
        from performance.services.kpis import kpi_history_periods, kpi_recompute_periods

        kpi_recompute_periods(scenario=scenario, periods=kpi_history_periods(months=12))
        clock.step("kpis", "KPIs: 12 months of snapshots computed")
        # Big tables are counted here from what was written: a count(*) right after commit would have to
        # read (and set hint bits on) every freshly loaded page.
        big = {
            "accounts": len(generated),
            "account assignments": placed + AccountAssignment.objects.filter(
                territory__in=[t for t in (named, overlay) if t]).count(),
            "activities": activities,
            "opportunities": opportunities,
        }
    result.counts = demo_counts(known=big)
    result.seconds["total"] = round(time.perf_counter() - clock.started, 2)
    return result


def _account_places(*, scenario: Scenario, leaves, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Database ids of the generated accounts (by generation index) and the leaf index each one sits in."""
    leaf_of_territory = {leaf.territory.pk: index for index, leaf in enumerate(leaves)}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT a.id, x.territory_id FROM {Account._meta.db_table} a
            LEFT JOIN {AccountAssignment._meta.db_table} x ON x.account_id = a.id AND x.scenario_id = %s
                 AND x.valid_to IS NULL AND x.source = 'geography'
            WHERE a.external_id LIKE 'ACCT-%%'
            ORDER BY a.external_id
            """,
            [scenario.pk],
        )
        rows = cursor.fetchall()
    if len(rows) != count:
        raise RuntimeError(f"expected {count} demo accounts, found {len(rows)}")
    account_ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=count)
    account_leaf = np.fromiter((leaf_of_territory.get(row[1], -1) for row in rows), dtype=np.int64, count=count)
    return account_ids, account_leaf


def _books(*, staff, account_leaf: np.ndarray, account_ids: np.ndarray, scenario, named, overlay) -> list[Book]:
    books = []
    for rep, leaf_indexes in zip(staff.field_reps, staff.rep_leaves, strict=True):
        books.append(Book(rep=rep, accounts=np.flatnonzero(np.isin(account_leaf, leaf_indexes))))
    index_of = {int(pk): i for i, pk in enumerate(account_ids.tolist())} if (named or overlay) else {}
    for rep, territory, kinds, per_year in ((staff.strategic, named, ("meeting", "call", "email"), 40.0),
                                            (staff.specialist, overlay, ("meeting", "call"), 60.0)):
        if rep is None or territory is None:
            continue
        members = AccountAssignment.objects.filter(scenario=scenario, territory=territory, valid_to__isnull=True)
        indexes = np.array(sorted(index_of[pk] for pk in members.values_list("account_id", flat=True)),
                           dtype=np.int64)
        books.append(Book(rep=rep, accounts=indexes, kinds=kinds, opportunities_per_year=per_year))
    return books


def demo_counts(*, known: dict[str, int] | None = None) -> dict[str, int]:
    """Row counts of what the demo holds, for the summary table; `known` ones are taken as given."""
    known = known or {}
    active = Scenario.objects.filter(status=Scenario.Status.ACTIVE).first()
    counts = {
        "accounts": lambda: Account.objects.count(),
        "account assignments": lambda: AccountAssignment.objects.count(),
        "territories": Territory.objects.count(),
        "leaf territories": Territory.objects.filter(scenario=active, children__isnull=True,
                                                     territory_type__kind=TerritoryType.Kind.GEOGRAPHY).count()
        if active else 0,
        "reps": Rep.objects.count(),
        "rep assignments": RepAssignment.objects.count(),
        "vacancies": RepAssignment.objects.filter(rep__isnull=True).count(),
        "teams": Team.objects.count(),
        "users": get_user_model().objects.filter(email__endswith=f"@{DEMO_EMAIL_DOMAIN}").count(),
        "activities": lambda: Activity.objects.count(),
        "opportunities": lambda: Opportunity.objects.count(),
        "quotas": Quota.objects.count(),
    }
    return {name: known[name] if name in known else value() if callable(value) else value
            for name, value in counts.items()}
