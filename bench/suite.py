"""The scale benchmark: a million accounts on one machine, each figure beside a baseline measured in the same run.

    .venv/bin/python bench/suite.py                 # full size: builds the data set once (a few minutes), then measures
    .venv/bin/python bench/suite.py --reuse         # measure again on the data set built last time
    .venv/bin/python bench/suite.py --scale 0.01    # 10,000 accounts: a quick check (tests/bench runs this)

Data set (seeded, repeatable; own database territory_bench_suite, or territory_bench_suite_s<scale>): at --scale 1,
1,000,000 accounts (70% round 40 metro areas, 30% spread over the lower 48), 2,110 territories in a 3-level
hierarchy (10 regions, 100 districts, 2,000 leaves with grid boundaries), 500 reps owning the leaves (every 97th
leaf vacant), 5,000,000 activities, 500,000 opportunities, quarterly quotas. Scenario A (active) is allocated by
the real engine; scenario B is its clone (scenario_clone) with every leaf shifted half a cell east and allocated
again, so about half the accounts change territory between the two. Generation is set-based SQL
(generate_series) into tables whose secondary indexes and constraints are dropped first and rebuilt once after.

Each measurement runs in its own process (so its peak memory is its own) and takes the median of --repeats:
- import:      CSV rows/s through accounts.services.imports.account_import (the path the import page, the API
               and the Celery task use), new rows and the same file again (nothing changes); baselines: a bare
               COPY of the same rows into accounts_account, and a row-by-row ORM save() of a sample;
- allocation:  allocation_preview of scenario A (match, rank, compare with the 1M assignments in force) and a
               real run with nothing changed; baseline: the bare point-in-polygon join into a temporary table;
- incremental: one leaf of B reshaped through territory_boundary_set, then allocation_run(territory_ids=[leaf]);
               baseline: the bare join of the two polygons concerned;
- kpi:         kpi_recompute of the current quarter; baseline: a bare grouped aggregate over the activities;
- compare:     scenario_compare(A, B); baseline: a bare SQL diff of the two scenarios' current territories;
- list:        GET /api/v1/me/accounts/ for reps (their book, attention-ordered), one at a time and from
               --clients threads at once; baseline: the bare SQL of the same page;
- map:         GET of account vector tiles at zooms 5-14 (cold, then --clients threads over a mixed set);
               baseline: the tile's SQL statement alone.
The last line is JSON: flat figures with their unit in the name, and per step its baseline, ratio and peak RSS.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ROOT,
    database_ensure,
    database_name_for_scale,
    database_url,
    django_setup,
    load_average,
    median,
    peak_rss_mb,
    percentile,
    queue_purge,
    secondary_structures,
    summary_backfill,
    summary_triggers_off,
    timed,
)

STEPS = ["import", "allocation", "incremental", "kpi", "compare", "list", "map"]
TARGETS = {  # figure -> (comparison, limit); checked and printed at the end
    "import_rows_per_s": (">=", 50_000),
    "allocation_s": ("<", 10),
    "allocation_ratio": ("<=", 1.3),
    "kpi_s": ("<", 15),
    "compare_s": ("<", 10),
    "list_p95_ms": ("<", 200),
    "map_p95_ms": ("<", 200),
}
INDUSTRIES = ["manufacturing", "healthcare", "retail", "software", "finance", "energy", "education", "logistics"]
WEST, SOUTH, EAST, NORTH = -125.0, 25.0, -70.0, 49.0
BULK_TABLES = ["accounts_account", "accounts_accountassignment", "performance_activity", "performance_opportunity"]


# ------------------------------------------------------------------------------------------------ the data set
def layout(scale: float) -> dict:
    """Sizes of everything for a scale; the grid is leaves (LX x LY) in districts (lx x ly) in regions (rx x ry)."""
    accounts = max(1000, round(1_000_000 * scale))
    if scale >= 0.1:
        grid = {"LX": 50, "LY": 40, "lx": 5, "ly": 4, "rx": 2, "ry": 5}
    else:
        grid = {"LX": 8, "LY": 4, "lx": 2, "ly": 2, "rx": 2, "ry": 1}
    grid.update(accounts=accounts, activities=accounts * 5, opportunities=accounts // 2,
                reps=max(4, round(500 * scale)), seed=42)
    grid["leaves"] = grid["LX"] * grid["LY"]
    grid["DX"], grid["DY"] = grid["LX"] // grid["lx"], grid["LY"] // grid["ly"]
    grid["RX"], grid["RY"] = grid["DX"] // grid["rx"], grid["DY"] // grid["ry"]
    grid["w"], grid["h"] = (EAST - WEST) / grid["LX"], (NORTH - SOUTH) / grid["LY"]
    return grid


def signature(plan: dict) -> str:
    keys = ("accounts", "activities", "opportunities", "leaves", "reps", "seed")
    return "suite " + " ".join(f"{key}={plan[key]}" for key in keys)


_TERRITORY_COLUMNS = ("scenario_id, parent_id, depth, level_name, name, code, built_from_units, is_locked, color, "
                      "version, created_at, updated_at, boundary, territory_type_id")

GENERATE_SQL = [
    "TRUNCATE performance_kpisnapshot, performance_activity, performance_opportunity, performance_quota,"
    " accounts_accountassignment, accounts_accountoverride, accounts_allocationrun, reps_repassignment, reps_rep,"
    " accounts_account, territories_assignmentrule, territories_territory, territories_scenarioevent,"
    " territories_scenario, reps_visitcadence, core_job RESTART IDENTITY CASCADE",
    "SET max_parallel_workers_per_gather = 0",  # one process draws the random numbers: the same data every time
    "SELECT setseed(0.42)",
    """INSERT INTO reps_visitcadence (tier, visits_per_year, minutes_per_visit)
       VALUES ('A', 24, 90), ('B', 12, 60), ('C', 4, 45), ('D', 1, 30)""",
    """INSERT INTO territories_scenario (name, description, status, version, created_at, updated_at, activated_at)
       VALUES ('Bench A', '', 'active', 1, now(), now(), now())""",
    f"""INSERT INTO territories_territory ({_TERRITORY_COLUMNS})
       SELECT 1, NULL, 0, 'region', 'Region ' || x || '-' || y, 'R' || x || '-' || y, false, false, '', 1, now(),
              now(), ST_Multi(ST_MakeEnvelope(%(west)s + x * %(rw)s, %(south)s + y * %(rh)s,
                                              %(west)s + (x + 1) * %(rw)s, %(south)s + (y + 1) * %(rh)s, 4326)),
              %(type)s
       FROM generate_series(0, %(RX)s - 1) x, generate_series(0, %(RY)s - 1) y""",
    f"""INSERT INTO territories_territory ({_TERRITORY_COLUMNS})
       SELECT 1, p.id, 1, 'district', 'District ' || x || '-' || y, 'D' || x || '-' || y, false, false, '', 1,
              now(), now(), ST_Multi(ST_MakeEnvelope(%(west)s + x * %(dw)s, %(south)s + y * %(dh)s,
                                                     %(west)s + (x + 1) * %(dw)s, %(south)s + (y + 1) * %(dh)s, 4326)),
              %(type)s
       FROM generate_series(0, %(DX)s - 1) x CROSS JOIN generate_series(0, %(DY)s - 1) y
       JOIN territories_territory p ON p.depth = 0 AND p.code = 'R' || (x / %(rx)s) || '-' || (y / %(ry)s)""",
    f"""INSERT INTO territories_territory ({_TERRITORY_COLUMNS})
       SELECT 1, p.id, 2, 'territory', 'Territory ' || x || '-' || y, 'L' || x || '-' || y, false, false, '', 1,
              now(), now(), ST_Multi(ST_MakeEnvelope(%(west)s + x * %(w)s, %(south)s + y * %(h)s,
                                                     %(west)s + (x + 1) * %(w)s, %(south)s + (y + 1) * %(h)s, 4326)),
              %(type)s
       FROM generate_series(0, %(LX)s - 1) x CROSS JOIN generate_series(0, %(LY)s - 1) y
       JOIN territories_territory p ON p.depth = 1 AND p.code = 'D' || (x / %(lx)s) || '-' || (y / %(ly)s)""",
    "DROP TABLE IF EXISTS bench_leaf",
    "CREATE TEMP TABLE bench_leaf AS SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM territories_territory"
    " WHERE depth = 2",
    """INSERT INTO reps_rep (name, email, role, home_city, industries, products, seniority, capacity_hours,
                            is_active)
       SELECT 'Rep ' || lpad(n::text, 4, '0'), '', 'field', '', '{}', '{}', 2, 1400, true
       FROM generate_series(1, %(reps)s) n""",
    # Contiguous runs of leaves per rep (4 each at full size); every 97th leaf is vacant.
    """INSERT INTO reps_repassignment (rep_id, territory_id, role, valid_from, note)
       SELECT 1 + (n * %(reps)s / %(leaves)s), id, 'owner', current_date - 730, '' FROM bench_leaf
       WHERE n %% 97 <> 5""",
    """INSERT INTO accounts_account (external_id, name, street, city, state, postal_code, country, location,
                                    industry, segment, customer_type, products, employees, annual_revenue, potential,
                                    tier, status, workload_hours, created_at, updated_at)
       SELECT 'B' || lpad(i::text, 8, '0'), 'Account ' || i, '', '', '', '', 'US',
              ST_SetSRID(ST_MakePoint(
                  least(%(east)s - 1e-6, greatest(%(west)s + 1e-6, CASE WHEN d.clustered
                      THEN m.lon + (d.u1 + d.u2 + d.u3 - 1.5) * m.spread ELSE %(west)s + d.u1 * (%(east)s - %(west)s)
                      END)),
                  least(%(north)s - 1e-6, greatest(%(south)s + 1e-6, CASE WHEN d.clustered
                      THEN m.lat + (d.v1 + d.v2 + d.v3 - 1.5) * m.spread ELSE %(south)s + d.v1 * (%(north)s - %(south)s)
                      END))), 4326),
              (%(industries)s::text[])[1 + (i %% %(n_industries)s)],
              (ARRAY['enterprise', 'mid_market', 'small_business'])[1 + (i %% 3)], 'b2b', '{}',
              (d.u2 * 5000)::int, round((d.v2 * 100000)::numeric, 2), round((1000 + d.v3 * 99000)::numeric, 2),
              (ARRAY['A', 'B', 'B', 'C', 'C', 'C', 'D', 'D'])[1 + (i %% 8)], 'customer', 10 + d.u3 * 30,
              now() - d.u3 * interval '1095 days', now()
       FROM (SELECT i, random() < 0.7 AS clustered, floor(random() * 40)::int AS metro, random() AS u1,
                    random() AS u2, random() AS u3, random() AS v1, random() AS v2, random() AS v3
             FROM generate_series(1, %(accounts)s) i) d
       JOIN bench_metro m ON m.k = d.metro""",
    """INSERT INTO performance_activity (account_id, rep_id, kind, occurred_at, duration_minutes, notes)
       SELECT 1 + floor(random() * %(accounts)s)::int, NULL,
              (ARRAY['visit', 'visit', 'visit', 'call', 'email'])[1 + (i %% 5)],
              now() - random() * interval '730 days', 30, ''
       FROM generate_series(1, %(activities)s) i""",
    """INSERT INTO performance_opportunity (external_id, account_id, rep_id, name, product, stage, amount,
                                           created_date, close_date)
       SELECT 'O' || i, 1 + floor(random() * %(accounts)s)::int, NULL, 'Deal ' || i, '',
              (ARRAY['prospecting', 'qualified', 'proposal', 'negotiation', 'won', 'won', 'lost'])[1 + (i %% 7)],
              round((500 + random() * 49500)::numeric, 2), d - 60, d
       FROM (SELECT i, current_date - 365 + (random() * 540)::int AS d
             FROM generate_series(1, %(opportunities)s) i) s""",
    """INSERT INTO performance_quota (territory_id, rep_id, metric, period_start, period_end, target)
       SELECT l.id, NULL, 'revenue', q::date, (q + interval '3 months' - interval '1 day')::date, %(quota)s
       FROM bench_leaf l,
            generate_series(date_trunc('year', now()) - interval '1 year', date_trunc('year', now())
                            + interval '21 months', interval '3 months') q""",
]


def data_generate(plan: dict, log) -> dict[str, float]:
    """Build the whole data set; returns seconds per phase."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection, transaction

    from accounts.services.allocation import allocation_run
    from core.roles import SALES_MANAGER, SALES_REP, roles_sync
    from reps.models import Rep
    from territories.models import Scenario, Territory, TerritoryType
    from territories.services.scenarios import scenario_clone

    timings: dict[str, float] = {}
    started = time.perf_counter()

    def lap(name: str) -> None:
        timings[name] = round(time.perf_counter() - started - sum(timings.values()), 1)
        log(f"  {name}: {timings[name]} s")

    geography, _ = TerritoryType.objects.get_or_create(name="Bench geography",
                                                       defaults={"kind": "geography", "priority": 100})
    rng = random.Random(plan["seed"])
    metros = [(i, rng.uniform(WEST + 2, EAST - 2), rng.uniform(SOUTH + 1.5, NORTH - 1.5), rng.uniform(0.3, 1.2))
              for i in range(40)]
    params = {**plan, "type": geography.pk, "west": WEST, "south": SOUTH, "east": EAST, "north": NORTH,
              "dw": plan["w"] * plan["lx"], "dh": plan["h"] * plan["ly"], "rw": plan["w"] * plan["lx"] * plan["rx"],
              "rh": plan["h"] * plan["ly"] * plan["ry"], "industries": INDUSTRIES, "n_industries": len(INDUSTRIES),
              "quota": round(plan["accounts"] / plan["leaves"] * 700, 2)}
    with connection.cursor() as cursor:
        cursor.execute("SET work_mem = '256MB'; SET maintenance_work_mem = '1GB'; SET jit = off")
        cursor.execute("DROP TABLE IF EXISTS bench_metro")
        cursor.execute("CREATE TEMP TABLE bench_metro (k int, lon float8, lat float8, spread float8)")
        cursor.executemany("INSERT INTO bench_metro VALUES (%s, %s, %s, %s)", metros)
        drops, creates = secondary_structures(cursor, BULK_TABLES)
        for statement in drops:
            cursor.execute(statement)
        try:
            with summary_triggers_off(cursor):
                for statement in GENERATE_SQL:
                    cursor.execute(statement, params)
            lap("rows (generate_series)")
        finally:
            for statement in creates:
                cursor.execute(statement)
        lap("indexes and constraints")
        summary_backfill(cursor)
        lap("account activity summary")
        cursor.execute(f"VACUUM ANALYZE {', '.join(BULK_TABLES)}")
        cursor.execute("ANALYZE")
        cursor.execute("RESET max_parallel_workers_per_gather")
        lap("vacuum analyze")

    roles_sync()
    users = get_user_model()
    users.objects.filter(username__startswith="bench-").delete()
    manager = users.objects.create(username="bench-manager", email="bench-manager@example.com")
    manager.groups.add(Group.objects.get(name=SALES_MANAGER))
    reps = list(Rep.objects.order_by("pk"))
    created = users.objects.bulk_create(users(username=f"bench-rep-{rep.pk:04d}", email=f"rep{rep.pk}@example.com")
                                        for rep in reps)
    rep_group = Group.objects.get(name=SALES_REP)
    users.groups.through.objects.bulk_create(users.groups.through(user_id=user.pk, group_id=rep_group.pk)
                                             for user in created)
    for rep, user in zip(reps, created, strict=True):
        rep.user_id = user.pk
    Rep.objects.bulk_update(reps, ["user"])
    lap("users")

    scenario_a = Scenario.objects.get(name="Bench A")
    allocation_run(scenario=scenario_a)
    lap("allocation of A (engine)")
    with transaction.atomic():
        scenario_b = scenario_clone(scenario=scenario_a, name="Bench B")
    lap("clone A -> B (scenario_clone)")
    # B: every leaf half a cell further east (the first column keeps the west edge, the last ends at the east).
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE territories_territory SET boundary = ST_Multi(ST_MakeEnvelope(
                CASE WHEN x = 0 THEN %(west)s ELSE %(west)s + (x + 0.5) * %(w)s END, %(south)s + y * %(h)s,
                CASE WHEN x = %(LX)s - 1 THEN %(east)s ELSE %(west)s + (x + 1.5) * %(w)s END,
                %(south)s + (y + 1) * %(h)s, 4326))
            FROM (SELECT id AS leaf_id, split_part(substr(code, 2), '-', 1)::int AS x,
                         split_part(code, '-', 2)::int AS y
                  FROM territories_territory WHERE scenario_id = %(b)s AND depth = 2) leaf
            WHERE id = leaf.leaf_id
            """,
            {**params, "b": scenario_b.pk},
        )
    allocation_run(scenario=scenario_b)
    lap("allocation of B (engine)")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE accounts_accountassignment, territories_territory")
    Scenario.objects.filter(pk=scenario_a.pk).update(description=signature(plan))
    assert Territory.objects.filter(scenario=scenario_a).count() == plan["leaves"] + plan["DX"] * plan["DY"] + (
        plan["RX"] * plan["RY"])
    lap("vacuum")
    return timings


def step_prepare(args, plan) -> dict:
    from django.core.management import call_command

    from territories.models import Scenario

    call_command("migrate", verbosity=0)
    current = Scenario.objects.filter(name="Bench A").values_list("description", flat=True).first()
    if args.reuse and current == signature(plan):
        return {"generated": False, "generate_s": 0.0}
    log(f"generating the data set: {signature(plan)}")
    seconds, timings = timed(data_generate, plan, log)
    return {"generated": True, "generate_s": round(seconds, 1), "phases": timings}


def counts() -> dict[str, int]:
    from django.db import connection

    tables = {"accounts": "accounts_account", "territories": "territories_territory", "reps": "reps_rep",
              "activities": "performance_activity", "opportunities": "performance_opportunity",
              "assignments": "accounts_accountassignment"}
    result = {}
    with connection.cursor() as cursor:
        for label, table in tables.items():
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [table])
            estimate = cursor.fetchone()[0]
            if estimate < 20_000_000:
                cursor.execute(f"SELECT count(*) FROM {table}")
                estimate = cursor.fetchone()[0]
            result[label] = estimate
        cursor.execute("SELECT count(*) FROM territories_territory t JOIN territories_scenario s"
                       " ON s.id = t.scenario_id WHERE s.name = 'Bench A'")
        result["territories"] = cursor.fetchone()[0]
    return result


def scenarios():
    from territories.models import Scenario

    return Scenario.objects.get(name="Bench A"), Scenario.objects.get(name="Bench B")


# ------------------------------------------------------------------------------------------------ import
def _import_files(rows: int, directory: Path, seed: int) -> tuple[Path, Path]:
    """The same new accounts as an import CSV (what users upload) and as COPY text (the bare baseline)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    lon = np.round(rng.uniform(WEST, EAST, rows), 6)
    lat = np.round(rng.uniform(SOUTH, NORTH, rows), 6)
    revenue = np.round(rng.uniform(0, 100_000, rows), 2)
    potential = np.round(rng.uniform(1000, 100_000, rows), 2)
    employees = rng.integers(1, 5000, rows)
    tiers = np.array(list("ABBCCCDD"))[rng.integers(0, 8, rows)]
    industries = np.array(INDUSTRIES)[rng.integers(0, len(INDUSTRIES), rows)]
    csv_path, copy_path = directory / "accounts.csv", directory / "accounts.copy"
    with open(csv_path, "w") as csv_file, open(copy_path, "w") as copy_file:
        csv_file.write("external_id,name,street,city,state,postal_code,country,longitude,latitude,industry,segment,"
                       "tier,status,employees,annual_revenue,potential\n")
        for i in range(rows):
            external_id, name = f"IMP-{i:08d}", f"Imported account {i}"
            csv_file.write(f"{external_id},{name},{i} Main Street,Springfield,IL,62701,US,{lon[i]},{lat[i]},"
                           f"{industries[i]},mid_market,{tiers[i]},customer,{employees[i]},{revenue[i]},"
                           f"{potential[i]}\n")
            copy_file.write(f"{external_id}\t{name}\t{i} Main Street\tSpringfield\tIL\t62701\tUS\t"
                            f"SRID=4326;POINT({lon[i]} {lat[i]})\t{industries[i]}\tmid_market\tb2b\t{{}}\t"
                            f"{employees[i]}\t{revenue[i]}\t{potential[i]}\t{tiers[i]}\tcustomer\t0\tnow\tnow\n")
    return csv_path, copy_path


COPY_SQL = ("COPY accounts_account (external_id, name, street, city, state, postal_code, country, location, industry, "
            "segment, customer_type, products, employees, annual_revenue, potential, tier, status, workload_hours, "
            "created_at, updated_at) FROM STDIN")


def _imported_delete() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM accounts_account WHERE external_id >= 'IMP-' AND external_id < 'IMP.'")
        cursor.execute("VACUUM ANALYZE accounts_account")


def step_import(args, plan) -> dict:
    from django.db import connection, transaction

    from accounts.models import Account
    from accounts.services.imports import account_import

    rows = max(1000, round(200_000 * args.scale))
    sample = min(1000, rows)
    directory = Path(tempfile.mkdtemp(prefix="bench-import-"))
    csv_path, copy_path = _import_files(rows, directory, plan["seed"])
    _imported_delete()
    new_s, again_s, copy_s = [], [], []
    for _ in range(args.repeats):
        seconds, summary = timed(account_import, path=str(csv_path), reallocate=False)
        assert summary["created"] == rows, summary
        new_s.append(seconds)
        seconds, summary = timed(account_import, path=str(csv_path), reallocate=False)
        assert summary["unchanged"] == rows, summary
        again_s.append(seconds)
        _imported_delete()
        with transaction.atomic(), connection.cursor() as cursor:
            started = time.perf_counter()
            with cursor.copy(COPY_SQL) as copy, open(copy_path, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    copy.write(chunk)
            copy_s.append(time.perf_counter() - started)
        _imported_delete()
    import_peak_rss_mb = peak_rss_mb()  # the imports' own peak, before the baseline below reads its sample
    # The naive path: one ORM save() per row, each in its own transaction, on a sample.
    import csv
    from itertools import islice

    with open(csv_path) as handle:
        reader = list(islice(csv.DictReader(handle), sample))
    started = time.perf_counter()
    for row in reader:
        Account(external_id=row["external_id"], name=row["name"], street=row["street"], city=row["city"],
                state=row["state"], postal_code=row["postal_code"], country=row["country"],
                location=f"SRID=4326;POINT({row['longitude']} {row['latitude']})", industry=row["industry"],
                segment=row["segment"], tier=row["tier"], status=row["status"], employees=int(row["employees"]),
                annual_revenue=row["annual_revenue"], potential=row["potential"]).save()
    orm_s = time.perf_counter() - started
    _imported_delete()
    for path in (csv_path, copy_path):
        path.unlink()
    directory.rmdir()
    result = {
        "rows": rows, "import_rows_per_s": round(rows / median(new_s)), "import_s": round(median(new_s), 3),
        "reimport_unchanged_rows_per_s": round(rows / median(again_s)),
        "copy_rows_per_s": round(rows / median(copy_s)), "orm_rows_per_s": round(sample / orm_s),
        "orm_sample_rows": sample, "import_path_peak_rss_mb": import_peak_rss_mb,
    }
    result["baseline"] = "bare COPY"
    result["ratio"] = round(result["import_rows_per_s"] / result["copy_rows_per_s"], 3)
    result["speedup_over_orm"] = round(result["import_rows_per_s"] / result["orm_rows_per_s"], 1)
    return result


# ------------------------------------------------------------------------------------------------ allocation
def _bare_join(polygon_filter: str, params: list) -> float:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '256MB'")
        started = time.perf_counter()
        cursor.execute(
            f"""
            CREATE TEMP TABLE bench_bare ON COMMIT DROP AS
            SELECT hit.id AS account_id, t.id AS territory_id
            FROM territories_territory t
            CROSS JOIN LATERAL (
                SELECT a.id FROM accounts_account a WHERE ST_Covers(t.boundary, a.location) OFFSET 0
            ) hit
            WHERE {polygon_filter}
            """,
            params,
        )
        return time.perf_counter() - started


def step_allocation(args, plan) -> dict:
    from django.db import connection

    from accounts.services.allocation import allocation_preview, allocation_run

    scenario_a, _ = scenarios()
    with connection.cursor() as cursor:  # as a worker's first allocation does (only possible before a temp table)
        cursor.execute("SET temp_buffers = '256MB'")
    leaves = "t.scenario_id = %s AND t.depth = 2"
    baseline, preview, rerun = [], [], []
    for _ in range(args.repeats):
        baseline.append(_bare_join(leaves, [scenario_a.pk]))
        seconds, run = timed(allocation_preview, scenario=scenario_a)
        preview.append(seconds)
        assert run.summary["changed"] == 0, run.summary
        seconds, run = timed(allocation_run, scenario=scenario_a)
        rerun.append(seconds)
        assert run.summary["changed"] == 0, run.summary
    result = {"allocation_s": round(median(preview), 3), "baseline_s": round(median(baseline), 3),
              "rerun_s": round(median(rerun), 3), "assigned": run.summary.get("assigned"),
              "phases": run.summary.get("timings")}
    result["baseline"] = "bare spatial join"
    result["ratio"] = round(result["allocation_s"] / result["baseline_s"], 3)
    return result


def step_incremental(args, plan) -> dict:
    from accounts.services.allocation import allocation_run
    from territories.models import Territory
    from territories.services.geography import territory_boundary_set

    _, scenario_b = scenarios()
    leaf = Territory.objects.get(scenario=scenario_b, code=f"L{plan['LX'] // 2}-{plan['LY'] // 2}")
    neighbour = Territory.objects.get(scenario=scenario_b, code=f"L{plan['LX'] // 2 + 1}-{plan['LY'] // 2}")
    west, south, east, north = leaf.boundary.extent
    shapes = [  # grown a third of a cell east into the neighbour, then back
        {"type": "Polygon", "coordinates": [[[west, south], [east + plan["w"] / 3, south],
                                             [east + plan["w"] / 3, north], [west, north], [west, south]]]},
        {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north], [west, north],
                                             [west, south]]]},
    ]
    incremental, baseline, changed = [], [], []
    for index in range(args.repeats * 2):
        leaf.refresh_from_db()
        territory_boundary_set(territory=leaf, boundary=shapes[index % 2], reallocate=False)  # timed below
        seconds, run = timed(allocation_run, scenario=scenario_b, territory_ids=[leaf.pk])
        incremental.append(seconds)
        changed.append(run.summary["changed"])
        assert run.summary["incremental"]
        baseline.append(_bare_join("t.id = ANY(%s)", [[leaf.pk, neighbour.pk]]))
    assert max(changed) > 0, changed
    result = {"incremental_s": round(median(incremental), 3), "baseline_s": round(median(baseline), 3),
              "changed_accounts": max(changed)}
    result["baseline"] = "bare join of the two polygons"
    result["ratio"] = round(result["incremental_s"] / result["baseline_s"], 3)
    return result


# ------------------------------------------------------------------------------------------------ KPIs, compare
def step_kpi(args, plan) -> dict:
    from django.db import connection

    from performance.periods import QUARTER, local_today, period_of
    from performance.services.kpis import kpi_recompute

    scenario_a, _ = scenarios()
    period = period_of(QUARTER, local_today())

    def bare() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SET work_mem = '256MB'")
            cursor.execute("SELECT count(*) FROM (SELECT account_id, count(*), max(occurred_at) "
                           "FROM performance_activity GROUP BY account_id) grouped")
            return cursor.fetchone()[0]

    bare()  # the same warm cache for both
    baseline, recompute = [], []
    for _ in range(args.repeats):
        baseline.append(timed(bare)[0])
        seconds, outcome = timed(kpi_recompute, scenario=scenario_a, period=period)
        recompute.append(seconds)
    result = {"kpi_s": round(median(recompute), 3), "baseline_s": round(median(baseline), 3),
              "snapshots": outcome.rows, "period": period.label}
    result["baseline"] = "bare grouped aggregate"
    result["ratio"] = round(result["kpi_s"] / result["baseline_s"], 3)
    return result


COMPARE_BARE_SQL = """
SELECT count(*) FILTER (WHERE ta.code IS DISTINCT FROM tb.code), count(*)
FROM (SELECT account_id, territory_id FROM accounts_accountassignment WHERE scenario_id = %(a)s AND valid_to IS NULL) a
FULL JOIN (SELECT account_id, territory_id FROM accounts_accountassignment
           WHERE scenario_id = %(b)s AND valid_to IS NULL) b USING (account_id)
LEFT JOIN territories_territory ta ON ta.id = a.territory_id
LEFT JOIN territories_territory tb ON tb.id = b.territory_id
"""


def step_compare(args, plan) -> dict:
    from django.db import connection

    from territories.services.compare import scenario_compare

    scenario_a, scenario_b = scenarios()

    def bare():
        with connection.cursor() as cursor:
            cursor.execute(COMPARE_BARE_SQL, {"a": scenario_a.pk, "b": scenario_b.pk})
            return cursor.fetchone()

    bare()
    baseline, compare = [], []
    for _ in range(args.repeats):
        seconds, (moved, _total) = timed(bare)
        baseline.append(seconds)
        seconds, outcome = timed(scenario_compare, scenario_a=scenario_a, scenario_b=scenario_b)
        compare.append(seconds)
    assert outcome["totals"]["accounts_moved"] == moved, (outcome["totals"], moved)
    result = {"compare_s": round(median(compare), 3), "baseline_s": round(median(baseline), 3),
              "accounts_moved": moved}
    result["baseline"] = "bare SQL diff"
    result["ratio"] = round(result["compare_s"] / result["baseline_s"], 3)
    return result


# ------------------------------------------------------------------------------------------------ endpoints
def _under_load(clients: int, seconds: float, request) -> tuple[list[float], int, float]:
    """`clients` threads calling request(rng) for `seconds`; returns latencies (ms), errors and elapsed time."""
    from django.db import connections

    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(number: int) -> None:
        rng = random.Random(number)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                ok = request(rng)
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    errors[0] += 0 if ok else 1
        finally:
            connections.close_all()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors[0], time.perf_counter() - started


def _endpoint_figures(prefix: str, single: list[float], loaded: list[float], errors: int, elapsed: float,
                      baseline: list[float]) -> dict:
    return {
        f"{prefix}_p50_ms": round(median(single), 1), f"{prefix}_p95_ms": round(percentile(single, 0.95), 1),
        f"{prefix}_loaded_p50_ms": round(median(loaded), 1),
        f"{prefix}_loaded_p95_ms": round(percentile(loaded, 0.95), 1),
        f"{prefix}_loaded_requests_per_s": round(len(loaded) / elapsed, 1), f"{prefix}_errors": errors,
        "baseline_ms": round(median(baseline), 1), "ratio": round(median(single) / median(baseline), 3),
    }


def step_list(args, plan) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    scenario_a, _ = scenarios()
    users = list(get_user_model().objects.filter(username__startswith="bench-rep-").order_by("username"))
    clients = {}

    def client_for(user):
        if user.pk not in clients:
            client = Client(HTTP_HOST="localhost")
            client.force_login(user)
            clients[user.pk] = client
        return clients[user.pk]

    def fetch(user) -> bool:
        response = client_for(user).get("/api/v1/me/accounts/")
        return response.status_code == 200 and len(response.json()["results"]["features"]) > 0

    def bare(user) -> float:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT a.id, a.name, ST_AsGeoJSON(a.location) FROM accounts_account a
                JOIN accounts_accountassignment x ON x.account_id = a.id AND x.scenario_id = %s AND x.valid_to IS NULL
                JOIN reps_repassignment r ON r.territory_id = x.territory_id AND r.valid_to IS NULL
                JOIN reps_rep rep ON rep.id = r.rep_id AND rep.user_id = %s
                ORDER BY a.name LIMIT 100
                """,
                [scenario_a.pk, user.pk],
            )
            cursor.fetchall()
        return (time.perf_counter() - started) * 1000

    rng = random.Random(plan["seed"])
    sample = rng.sample(users, min(len(users), 30))
    single, baseline = [], []
    fetch(sample[0])
    for user in sample:
        started = time.perf_counter()
        assert fetch(user)
        single.append((time.perf_counter() - started) * 1000)
        baseline.append(bare(user))
    loaded, errors, elapsed = _under_load(args.clients, args.load_seconds,
                                          lambda rng: fetch(rng.choice(users)))
    result = _endpoint_figures("list", single, loaded, errors, elapsed, baseline)
    result["baseline"] = "bare SQL of the page"
    return result


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    import math

    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def step_map(args, plan) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from territories.models import Scenario
    from territories.workspace import selectors

    scenario_a, _ = scenarios()
    # A new updated_at gives every tile a new cache key: the first requests below are cold.
    Scenario.objects.filter(pk=scenario_a.pk).update(updated_at=timezone.now())
    scenario_a.refresh_from_db()
    manager = get_user_model().objects.get(username="bench-manager")
    with connection.cursor() as cursor:
        cursor.execute("SELECT ST_X(location), ST_Y(location) FROM accounts_account WHERE id % 97 = 1 LIMIT 2000")
        anchors = cursor.fetchall()
    rng = random.Random(plan["seed"])
    tiles = []
    for z in (5, 6, 8, 10, 12, 14):
        for _ in range(8):
            tile = (z, *_tile_of(*rng.choice(anchors), z))
            if tile not in tiles:
                tiles.append(tile)
    local = threading.local()

    def fetch(tile) -> bool:
        if not hasattr(local, "client"):
            local.client = Client(HTTP_HOST="localhost")
            local.client.force_login(manager)
        z, x, y = tile
        response = local.client.get(f"/workspace/api/scenarios/{scenario_a.pk}/tiles/{z}/{x}/{y}.pbf")
        return response.status_code == 200

    single, baseline = [], []
    for tile in tiles:
        started = time.perf_counter()
        assert fetch(tile)
        single.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        selectors.account_tile(scenario=scenario_a, z=tile[0], x=tile[1], y=tile[2], use_cache=False)
        baseline.append((time.perf_counter() - started) * 1000)
    # Under load: a wider set of tiles (a third of them already cached), as several managers panning would ask.
    wider = tiles + [(z, *_tile_of(*rng.choice(anchors), z)) for z in (8, 10, 11, 12, 13, 14) for _ in range(30)]
    loaded, errors, elapsed = _under_load(args.clients, args.load_seconds, lambda rng: fetch(rng.choice(wider)))
    result = _endpoint_figures("map", single, loaded, errors, elapsed, baseline)
    result["baseline"] = "tile SQL alone"
    result["tiles_cold"] = len(tiles)
    return result


# ------------------------------------------------------------------------------------------------ orchestration
def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (0.01 = 10,000 accounts)")
    parser.add_argument("--reuse", action="store_true", help="keep the data set of the last run of the same size")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4, help="threads for the endpoint figures under load")
    parser.add_argument("--load-seconds", type=float, default=10.0)
    parser.add_argument("--database", default=None, help="database name (default: by scale)")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated subset of {','.join(STEPS)}")
    parser.add_argument("--step", default=None, help=argparse.SUPPRESS)  # internal: run one step in this process
    return parser.parse_args(argv)


def run_step(args, name: str) -> dict:
    """Run one step in a child process and return its JSON (with the child's peak RSS)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--step", name, "--scale", str(args.scale),
               "--repeats", str(args.repeats), "--clients", str(args.clients), "--load-seconds",
               str(args.load_seconds), "--database", args.database] + (["--reuse"] if args.reuse else [])
    # Jobs the measured services queue (the import's KPI refresh) go to a private queue, emptied afterwards.
    env = {**os.environ, "CELERY_DEFAULT_QUEUE": f"bench-suite-{os.getpid()}"}
    completed = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
    queue_purge(env["CELERY_DEFAULT_QUEUE"])
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    if completed.returncode != 0 or not lines:
        raise SystemExit(f"step {name} failed (exit {completed.returncode})")
    return json.loads(lines[-1])


def child(args) -> None:
    django_setup(database_url(args.database))
    plan = layout(args.scale)
    function = globals()[f"step_{args.step}"]
    result = function(args, plan)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result, default=str))


def main(argv=None) -> dict:
    args = parse_args(argv)
    args.database = args.database or database_name_for_scale(args.scale)
    if args.step:
        child(args)
        return {}
    database_ensure(database_url(args.database))
    plan = layout(args.scale)
    wanted = [step for step in args.steps.split(",") if step]
    unknown = set(wanted) - set(STEPS)
    if unknown:
        raise SystemExit(f"unknown steps: {', '.join(sorted(unknown))}")
    log(f"database {args.database}, scale {args.scale}, {os.cpu_count()} cores, load average {load_average()}")
    results = {"prepare": run_step(args, "prepare")}
    args.reuse = True  # the children measure what prepare built
    results["counts"] = run_step(args, "counts")
    results["counts"].pop("peak_rss_mb", None)
    for name in wanted:
        log(f"measuring {name} (load average {load_average()})")
        results[name] = run_step(args, name)
    return report(args, plan, results, wanted)


def step_counts(args, plan) -> dict:
    return counts()


def report(args, plan, results: dict, wanted: list[str]) -> dict:
    figures = {"date": dt.datetime.now().astimezone().isoformat(timespec="seconds"), "cores": os.cpu_count(),
               "load_average": load_average(), "scale": args.scale, "repeats": args.repeats,
               "database": args.database, "generate_s": results["prepare"]["generate_s"], **results["counts"]}
    rows = []
    labels = {
        "import": ("import_rows_per_s", "rows/s", "copy_rows_per_s"),
        "allocation": ("allocation_s", "s", "baseline_s"),
        "incremental": ("incremental_s", "s", "baseline_s"),
        "kpi": ("kpi_s", "s", "baseline_s"),
        "compare": ("compare_s", "s", "baseline_s"),
        "list": ("list_p50_ms", "ms", "baseline_ms"),
        "map": ("map_p50_ms", "ms", "baseline_ms"),
    }
    steps = {}
    for name in wanted:
        step = results[name]
        steps[name] = step
        key, unit, base_key = labels[name]
        for figure, value in step.items():
            if figure.endswith(("_s", "_per_s", "_ms", "_errors")) or figure in {"changed_accounts", "accounts_moved"}:
                flat = figure if figure.startswith(name) else f"{name}_{figure}"
                figures[flat] = value
        figures[f"{name}_ratio"] = step.get("ratio")
        figures[f"{name}_peak_rss_mb"] = step.get("peak_rss_mb")
        rows.append((name, key, step[key], unit, step.get("baseline", ""), step[base_key], step.get("ratio"),
                     step.get("peak_rss_mb")))
    figures["prepare_peak_rss_mb"] = results["prepare"].get("peak_rss_mb")
    figures["peak_rss_mb"] = max(value for key, value in figures.items()
                                 if key.endswith("_peak_rss_mb") and value is not None)
    figures["steps"] = steps

    print(f"\nScale benchmark, {figures['date']}: {os.cpu_count()} cores, load average {figures['load_average']}, "
          f"median of {args.repeats}; database {args.database}")
    print("  " + ", ".join(f"{results['counts'][key]:,} {key}" for key in results["counts"]))
    print(f"  data set generated in {figures['generate_s']} s" if results["prepare"]["generated"]
          else "  data set reused")
    print(f"\n  {'step':<12} {'figure':<20} {'value':>11} {'unit':<6} {'baseline':<30} {'value':>9} {'ratio':>7} "
          f"{'RSS MB':>7}")
    for name, key, value, unit, baseline, base_value, ratio, rss in rows:
        print(f"  {name:<12} {key:<20} {value:>11,} {unit:<6} {baseline:<30} {base_value:>9,} {ratio or 0:>7.2f} "
              f"{rss or 0:>7.0f}")
    extras = {key: value for key, value in figures.items() if key.endswith(("rows_per_s", "rerun_s", "_loaded_p95_ms",
                                                                             "requests_per_s", "_errors"))}
    print("\n  " + "\n  ".join(f"{key}: {value}" for key, value in extras.items()))
    checks = []
    for key, (operator, limit) in TARGETS.items():
        if key in figures and figures[key] is not None:
            value = figures[key]
            ok = {"<": value < limit, "<=": value <= limit, ">=": value >= limit}[operator]
            checks.append(f"{key} {value} {operator} {limit}: {'ok' if ok else 'MISSED'}")
            figures.setdefault("targets_missed", [])
            if not ok:
                figures["targets_missed"].append(key)
    print("\n  targets: " + "; ".join(checks))
    print(json.dumps(figures, default=str))
    return figures


if __name__ == "__main__":
    main()
