"""Allocation benchmark: the allocation service against a hand-written bare spatial join, in one run.

    .venv/bin/python bench/allocation.py --accounts 1000000 --territories 3100 --rules 500

Data: a throw-away database (<name>_bench, created and migrated on first use, reused after) holding one
planning scenario whose leaves are US county polygons from the plotly-geo package (lower 48 states and DC; a
grid of squares when more territories are asked for than there are counties), N accounts placed uniformly at
random inside those polygons, and a second scenario with field rules (state x industry) for the rule run.

Timed, each as the median of --repeats runs:
- baseline_s:    the bare point-in-polygon join written by hand (polygon on the outer side, GiST on points),
                 materialised into a temporary table: the lower bound for finding every account's territory;
- allocation_s:  the allocation service computing the whole outcome (match, priorities, ties, overrides,
                 comparison with the assignments in force) as a dry run: ratio = allocation_s / baseline_s;
- match_s:       the dry run's matching phase alone (the same work as the bare join): match_ratio;
- end_to_end_s:  the real run from an empty alignment: the same, plus closing and writing 1 assignment per
                 account (the effective-dated history rows) and committing;
- rerun_s:       the real run again with nothing changed (nothing written);
- rule_run_s:    a real run of the rule scenario (--rules rules, no geography) from an empty alignment.
The last line of output is JSON with these figures and peak_rss_mb (this process's peak resident memory), the
load average before and after (the machine is shared: figures under load are slower and noisier), and
paired_ratio: the median of each repeat's allocation_s / baseline_s, measured back to back, which load moves
less than the ratio of the two medians.
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

INDUSTRIES = [
    "manufacturing",
    "healthcare",
    "retail",
    "software",
    "finance",
    "energy",
    "education",
    "logistics",
    "construction",
    "media",
    "agriculture",
]
COUNTIES = Path("_plotly_geo/package_data/cb_2016_us_county_500k.shp")
NOT_LOWER_48 = {"02", "15", "60", "66", "69", "72", "78"}  # Alaska, Hawaii and the island territories


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--territories", type=int, default=3100)
    parser.add_argument("--rules", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--database", default=None, help="database name (default: <configured name>_bench)")
    parser.add_argument("--fresh", action="store_true", help="regenerate the data even if it matches")
    return parser.parse_args(argv)


def setup_django(database: str | None):
    import django
    from django.conf import settings

    django.setup()
    settings.DEBUG = False
    from django.db import connection

    name = database or f"{connection.settings_dict['NAME']}_bench"
    connection.settings_dict.setdefault("TEST", {})["NAME"] = name
    # The test-database machinery creates (or keeps) and migrates the throw-away database, then points to it.
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=True, serialize=False)
    with connection.cursor() as cursor:
        # As the worker's first allocation does: room in memory for temporary tables, for the join and the service.
        cursor.execute("SET temp_buffers = '256MB'")
    return connection


def polygons(count: int) -> list[tuple[str, str, str]]:
    """(code, state, WKT) for `count` territories: counties, then grid squares if more are asked for."""
    import site

    import geopandas as gpd
    from shapely.geometry import MultiPolygon, box

    path = next((Path(p) / COUNTIES for p in site.getsitepackages() if (Path(p) / COUNTIES).exists()), None)
    rows = []
    if path is not None:
        frame = gpd.read_file(path)
        frame = frame[~frame["STATEFP"].isin(NOT_LOWER_48)].sort_values("GEOID")
        for geoid, state, geom in zip(frame["GEOID"], frame["STATEFP"], frame["geometry"], strict=True):
            if len(rows) >= count:
                break
            geom = MultiPolygon([geom]) if geom.geom_type == "Polygon" else geom
            rows.append((f"C{geoid}", state, geom.wkt))
    side = 0.25
    index = 0
    while len(rows) < count:  # a grid north of the counties (or instead of them)
        x, y = -125 + (index % 200) * side, 50 + (index // 200) * side
        rows.append((f"G{index:05d}", f"G{index // 200:02d}", MultiPolygon([box(x, y, x + side, y + side)]).wkt))
        index += 1
    return rows


def generate(connection, args) -> dict:
    """Create (or reuse) the scenarios, territories, rules and accounts; returns their ids."""
    from territories.models import AssignmentRule, Scenario, Territory, TerritoryType

    signature = f"accounts={args.accounts} territories={args.territories} rules={args.rules}"
    geo = Scenario.objects.filter(name="Bench geography").first()
    if geo and geo.description == signature and not args.fresh:
        rules = Scenario.objects.get(name="Bench rules")
        return {"geography": geo, "rules": rules, "generated_s": 0.0}
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE accounts_accountassignment, accounts_allocationrun, accounts_accountoverride, "
            "accounts_account, territories_territory, territories_scenario CASCADE"
        )
    geo = Scenario.objects.create(name="Bench geography", description=signature)
    rules_scenario = Scenario.objects.create(name="Bench rules", description=signature)
    geography_type, _ = TerritoryType.objects.get_or_create(
        name="Bench geography", defaults={"kind": "geography", "priority": 9001}
    )
    shapes = polygons(args.territories)
    with connection.cursor() as cursor:
        with cursor.copy(
            "COPY territories_territory (scenario_id, depth, level_name, name, code, boundary, "
            "built_from_units, is_locked, color, version, created_at, updated_at, territory_type_id) "
            "FROM STDIN"
        ) as copy:
            for code, _state, wkt in shapes:
                copy.write_row(
                    (
                        geo.pk,
                        0,
                        "county",
                        code,
                        code,
                        f"SRID=4326;{wkt}",
                        False,
                        False,
                        "",
                        1,
                        "now",
                        "now",
                        geography_type.pk,
                    )
                )
        cursor.execute("ANALYZE territories_territory")
        per_territory = args.accounts / len(shapes)
        # Points uniform inside each polygon; the count per polygon adds up to exactly --accounts.
        cursor.execute(
            """
            WITH quota AS (
                SELECT t.id, t.boundary, t.code,
                       (floor(%(per)s * row_number() OVER (ORDER BY t.id))
                        - floor(%(per)s * (row_number() OVER (ORDER BY t.id) - 1)))::int AS n
                FROM territories_territory t WHERE t.scenario_id = %(scenario)s
            ), points AS (
                SELECT q.code, (ST_Dump(ST_GeneratePoints(q.boundary, q.n, 42))).geom AS location
                FROM quota q WHERE q.n > 0
            )
            INSERT INTO accounts_account (external_id, name, street, city, state, postal_code, country, location,
                industry, segment, customer_type, products, employees, annual_revenue, potential, tier, status,
                workload_hours, created_at, updated_at)
            SELECT 'B' || lpad(row_number() OVER ()::text, 8, '0'), 'Account ' || row_number() OVER (), '', '',
                   substr(p.code, 2, 2), '', 'US', p.location,
                   (%(industries)s::text[])[1 + floor(random() * %(n_industries)s)::int],
                   (ARRAY['enterprise', 'mid_market', 'small_business'])[1 + floor(random() * 3)::int], 'b2b',
                   ARRAY['core']::varchar[], (random() * 5000)::int, round((random() * 100000)::numeric, 2),
                   round((random() * 500000)::numeric, 2), 'C', 'customer', 20, now(), now()
            FROM points p
            """,
            {"per": per_territory, "scenario": geo.pk, "industries": INDUSTRIES, "n_industries": len(INDUSTRIES)},
        )
    states = sorted({state for _code, state, _wkt in shapes})
    combos = [(state, industry) for industry in INDUSTRIES for state in states][: args.rules]
    rule_type, _ = TerritoryType.objects.get_or_create(
        name="Bench segment", defaults={"kind": "industry", "priority": 9002}
    )
    territories = Territory.objects.bulk_create(
        Territory(
            scenario=rules_scenario,
            name=f"{state} {industry}",
            code=f"R{state}-{industry[:4]}-{i}",
            territory_type=rule_type,
        )
        for i, (state, industry) in enumerate(combos)
    )
    AssignmentRule.objects.bulk_create(
        AssignmentRule(
            territory=territory,
            name=territory.name,
            within_boundary=False,
            priority=100 + i % 7,
            criteria=[
                {"field": "state", "op": "equals", "value": state},
                {"field": "industry", "op": "in", "value": [industry]},
                {"field": "annual_revenue", "op": "range", "value": [0, None]},
            ],
        )
        for i, (territory, (state, industry)) in enumerate(zip(territories, combos, strict=True))
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE accounts_account")
    return {"geography": geo, "rules": rules_scenario, "generated_s": round(time.perf_counter() - started, 1)}


def clear_assignments(connection, scenario) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM accounts_accountassignment WHERE scenario_id = %s", [scenario.pk])
        cursor.execute("DELETE FROM accounts_allocationrun WHERE scenario_id = %s", [scenario.pk])
        cursor.execute("VACUUM ANALYZE accounts_accountassignment")


def bare_join(connection, scenario) -> float:
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        started = time.perf_counter()
        cursor.execute(
            """
            CREATE TEMP TABLE bench_bare ON COMMIT DROP AS
            SELECT hit.id AS account_id, t.id AS territory_id
            FROM territories_territory t
            CROSS JOIN LATERAL (
                SELECT a.id FROM accounts_account a WHERE ST_Covers(t.boundary, a.location) OFFSET 0
            ) hit
            WHERE t.scenario_id = %s
            """,
            [scenario.pk],
        )
        elapsed = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM bench_bare")
        assert cursor.fetchone()[0] > 0
    return elapsed


def timed(function) -> tuple[float, object]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main(argv=None) -> dict:
    args = parse_args(argv)
    connection = setup_django(args.database)
    from accounts.models import Account, AccountAssignment
    from accounts.services.allocation import allocation_preview, allocation_run

    data = generate(connection, args)
    geo, rules = data["geography"], data["rules"]
    load_before = [round(value, 2) for value in os.getloadavg()]
    accounts = Account.objects.count()
    baseline, allocation, end_to_end, rerun, rule_run = [], [], [], [], []
    phases, preview_phases = [], []
    for _ in range(args.repeats):
        clear_assignments(connection, geo)
        baseline.append(bare_join(connection, geo))
        seconds, preview = timed(lambda: allocation_preview(scenario=geo))
        allocation.append(seconds)
        preview_phases.append(preview.summary["timings"])
        seconds, run = timed(lambda: allocation_run(scenario=geo))
        end_to_end.append(seconds)
        phases.append(run.summary["timings"])
        seconds, again = timed(lambda: allocation_run(scenario=geo))
        rerun.append(seconds)
        assert again.summary["changed"] == 0
        clear_assignments(connection, rules)
        seconds, rule_summary = timed(lambda: allocation_run(scenario=rules))
        rule_run.append(seconds)
    assigned = AccountAssignment.objects.filter(scenario=geo, valid_to__isnull=True).count()
    result = {
        "accounts": accounts,
        "territories": args.territories,
        "rules": args.rules,
        "repeats": args.repeats,
        "assigned": assigned,
        "rule_assigned": rule_summary.summary["assigned"],
        "baseline_s": round(statistics.median(baseline), 3),
        "allocation_s": round(statistics.median(allocation), 3),
        "end_to_end_s": round(statistics.median(end_to_end), 3),
        "rerun_s": round(statistics.median(rerun), 3),
        "rule_run_s": round(statistics.median(rule_run), 3),
        "generated_s": data["generated_s"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_average_before": load_before,
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
    }
    result["ratio"] = round(result["allocation_s"] / result["baseline_s"], 3) if result["baseline_s"] else None
    result["paired_ratio"] = round(statistics.median(a / b for a, b in zip(allocation, baseline, strict=True) if b), 3)
    # the matching phase alone (the part of the service that does what the bare join does)
    result["match_s"] = round(statistics.median(p["match"] for p in preview_phases), 3)
    result["match_ratio"] = round(result["match_s"] / result["baseline_s"], 3) if result["baseline_s"] else None
    result["end_to_end_ratio"] = (
        round(result["end_to_end_s"] / result["baseline_s"], 3) if result["baseline_s"] else None
    )
    result["end_to_end_phases"] = {key: round(statistics.median(p.get(key, 0) for p in phases), 3) for key in phases[0]}
    result["allocation_phases"] = {
        key: round(statistics.median(p.get(key, 0) for p in preview_phases), 3) for key in preview_phases[0]
    }
    rows = [
        ("bare spatial join (lower bound)", "baseline_s"),
        ("allocation's matching phase alone", "match_s"),
        ("allocation, dry run (match + rank + compare)", "allocation_s"),
        ("allocation, real run from empty (writes history)", "end_to_end_s"),
        ("allocation, real run with nothing changed", "rerun_s"),
        (f"rule run, {args.rules} rules", "rule_run_s"),
    ]
    print(
        f"{accounts:,} accounts, {args.territories:,} territories, {args.rules} rules, "
        f"median of {args.repeats} (data generated in {data['generated_s']} s)"
    )
    print(f"{'step':52} {'seconds':>9} {'x join':>8}")
    for label, key in rows:
        ratio = result[key] / result["baseline_s"] if result["baseline_s"] else 0
        print(f"{label:52} {result[key]:9.3f} {ratio:8.2f}")
    print(
        f"paired ratio (median of per-repeat allocation / join): {result['paired_ratio']:.2f}; load average "
        f"{' '.join(map(str, load_before))} before, {' '.join(map(str, result['load_average_after']))} after"
    )
    print(f"dry-run phases: {result['allocation_phases']}")
    print(f"end-to-end phases: {result['end_to_end_phases']}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
