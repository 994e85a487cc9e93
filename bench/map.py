"""Map benchmark: vector tiles of accounts from PostGIS against a GeoJSON baseline, at a million accounts.

    .venv/bin/python bench/map.py [--accounts 1000000] [--samples 30] [--database-url postgis://...]

Runs in its own database (territory_bench_map by default; created and migrated when missing), fills it
to --accounts accounts in one generate_series statement (70% clustered round 24 metro areas, 30% spread
over the lower 48), a planning scenario of 48 territories and one current assignment per account. Then it
requests account tiles through the workspace's tile endpoint (Django test client, session auth, cold cache)
at zooms 4 to 14 round random accounts, and for the same viewports the GeoJSON a non-tiled endpoint would
send. Prints a table, then one JSON line: tile_median_ms and tile_p95_ms (cold tile requests through the endpoint),
payload_kb (median tile size), baseline_ms (median GeoJSON statement for the same viewports), ratio (total
GeoJSON statement time over total tile statement time on those viewports).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgis://territory:territory@127.0.0.1:5432/territory_bench_map"
ZOOMS = (4, 6, 8, 10, 12, 14)
METROS = [  # lon, lat, spread in degrees
    (-74.0, 40.7, 0.6), (-118.2, 34.05, 0.7), (-87.6, 41.9, 0.5), (-95.4, 29.8, 0.5), (-112.1, 33.45, 0.5),
    (-75.2, 39.95, 0.4), (-98.5, 29.4, 0.4), (-117.2, 32.7, 0.4), (-96.8, 32.8, 0.5), (-122.4, 37.75, 0.5),
    (-97.7, 30.3, 0.3), (-81.7, 30.3, 0.4), (-83.0, 39.96, 0.3), (-80.8, 35.2, 0.4), (-86.2, 39.8, 0.3),
    (-122.3, 47.6, 0.4), (-104.99, 39.74, 0.4), (-77.0, 38.9, 0.4), (-71.06, 42.36, 0.4), (-86.8, 36.2, 0.3),
    (-83.05, 42.33, 0.4), (-84.4, 33.75, 0.5), (-80.2, 25.8, 0.4), (-93.27, 44.98, 0.4),
]


def _setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    _ensure_database(database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _ensure_database(database_url: str) -> None:
    import dj_database_url
    import psycopg

    settings = dj_database_url.parse(database_url)
    admin = psycopg.connect(host=settings["HOST"] or "127.0.0.1", port=settings["PORT"] or 5432,
                            user=settings["USER"], password=settings["PASSWORD"], dbname="postgres", autocommit=True)
    with admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [settings["NAME"]]).fetchone()
        if not exists:
            print(f"creating database {settings['NAME']}", file=sys.stderr)
            admin.execute(f'CREATE DATABASE "{settings["NAME"]}"')


def _ensure_data(accounts: int):
    """Scenario, 48 territories (a 8×6 grid over the lower 48) and `accounts` accounts, each assigned."""
    from django.db import connection, transaction

    from core.models import User
    from core.roles import SALES_MANAGER, roles_sync
    from territories.models import Scenario

    scenario, _ = Scenario.objects.get_or_create(name="Map benchmark", defaults={"status": Scenario.Status.PLANNING})
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM territories_territory WHERE scenario_id = %s", [scenario.pk])
        if cursor.fetchone()[0] == 0:
            cursor.execute(
                """
                INSERT INTO territories_territory (scenario_id, depth, level_name, name, code, boundary,
                    built_from_units, is_locked, color, version, created_at, updated_at)
                SELECT %s, 0, 'territory', 'Bench ' || i || '-' || j, 'B' || i || '-' || j,
                       ST_Multi(ST_MakeEnvelope(-125 + i * 7.25, 25 + j * 4, -125 + (i + 1) * 7.25, 25 + (j + 1) * 4,
                                                4326)), false, false, '', 1, now(), now()
                FROM generate_series(0, 7) i, generate_series(0, 5) j
                """,
                [scenario.pk],
            )
        cursor.execute("SELECT count(*) FROM accounts_account")
        have = cursor.fetchone()[0]
    if have < accounts:
        missing = accounts - have
        print(f"generating {missing:,} accounts", file=sys.stderr)
        started = time.perf_counter()
        metros = ",".join(f"({i}, {lon}, {lat}, {spread})" for i, (lon, lat, spread) in enumerate(METROS))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""
                WITH metro(i, lon, lat, spread) AS (VALUES {metros}),
                draws AS (
                    SELECT g, random() < 0.7 AS clustered, floor(random() * {len(METROS)})::int AS m,
                           (random() + random() + random() - 1.5) AS dx, (random() + random() + random() - 1.5) AS dy,
                           random() AS ux, random() AS uy
                    FROM generate_series(%s + 1, %s) g
                )
                INSERT INTO accounts_account (external_id, name, street, city, state, postal_code, country, location,
                    industry, segment, customer_type, products, annual_revenue, potential, tier, status,
                    workload_hours, created_at, updated_at)
                SELECT 'BENCH-' || g, 'Bench account ' || g, '', '', '', '', 'US',
                       ST_SetSRID(ST_MakePoint(
                           CASE WHEN clustered THEN metro.lon + dx * metro.spread * 2 ELSE -124 + ux * 57 END,
                           CASE WHEN clustered THEN metro.lat + dy * metro.spread * 2 ELSE 26 + uy * 22 END), 4326),
                       'manufacturing', 'mid_market', 'b2b', '{{}}', round((random() * 50000)::numeric, 2),
                       round((random() * 200000)::numeric, 2), 'C', 'customer', 10 + random() * 30, now(), now()
                FROM draws JOIN metro ON metro.i = draws.m
                """,
                [have, accounts],
            )
            cursor.execute(
                """
                INSERT INTO accounts_accountassignment (scenario_id, account_id, territory_id, valid_from, source,
                                                        reason)
                SELECT %s, a.id, t.id, now() - interval '1 day', 'geography', ''
                FROM accounts_account a
                JOIN territories_territory t ON t.scenario_id = %s AND ST_Intersects(t.boundary, a.location)
                WHERE NOT EXISTS (SELECT 1 FROM accounts_accountassignment x
                                  WHERE x.account_id = a.id AND x.scenario_id = %s AND x.valid_to IS NULL)
                ON CONFLICT DO NOTHING
                """,
                [scenario.pk, scenario.pk, scenario.pk],
            )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE accounts_account; ANALYZE accounts_accountassignment")
        print(f"generated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    roles_sync()
    user, _ = User.objects.get_or_create(username="bench-manager")
    user.groups.add(*user.groups.model.objects.filter(name=SALES_MANAGER))
    return scenario, user


def _tile_for(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def _tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    n = 2**z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


BASELINE_SQL = """
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object(
    'type', 'Feature', 'id', a.id, 'properties', json_build_object('territory', asg.territory_id),
    'geometry', ST_AsGeoJSON(a.location, 6)::json)), '[]'::json))::text
FROM accounts_account a
LEFT JOIN LATERAL (
    SELECT territory_id FROM accounts_accountassignment
    WHERE account_id = a.id AND scenario_id = %s AND valid_to IS NULL ORDER BY valid_from DESC LIMIT 1
) asg ON true
WHERE a.location && ST_MakeEnvelope(%s, %s, %s, %s, 4326)
"""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=30, help="tiles per zoom")
    parser.add_argument("--baseline-samples", type=int, default=5, help="GeoJSON viewports per zoom")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_MAP_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    _setup_django(args.database_url)
    from django.db import connection
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from territories.models import Scenario
    from territories.workspace import selectors

    scenario, user = _ensure_data(args.accounts)
    # A new updated_at gives every tile a new cache key: the timings below are cold (SQL every time).
    Scenario.objects.filter(pk=scenario.pk).update(updated_at=timezone.now())
    scenario.refresh_from_db()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_account")
        total = cursor.fetchone()[0]
        cursor.execute("SELECT ST_X(location), ST_Y(location) FROM accounts_account TABLESAMPLE SYSTEM (0.2) "
                       "WHERE location IS NOT NULL LIMIT 2000")
        anchors = cursor.fetchall()
    rng = random.Random(args.seed)
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)

    rows, all_ms, all_kb, baseline_all_ms, baseline_all_kb, warm_ms, sql_ms = [], [], [], [], [], [], []
    for z in ZOOMS:
        tiles = []
        for _attempt in range(args.samples * 50):  # at low zoom the data covers only a few distinct tiles
            tile = _tile_for(*rng.choice(anchors), z)
            if tile not in tiles:
                tiles.append(tile)
            if len(tiles) >= args.samples:
                break
        tile_ms, tile_kb = [], []
        for x, y in tiles:
            url = reverse("workspace:api-tile", args=[scenario.pk, z, x, y])
            started = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.status_code
            tile_ms.append(elapsed)
            tile_kb.append(len(response.content) / 1024)
            started = time.perf_counter()
            client.get(url)
            warm_ms.append((time.perf_counter() - started) * 1000)
        base_ms, base_kb = [], []
        for x, y in tiles[: args.baseline_samples]:
            # Like for like: the tile statement alone (no HTTP, no cache) against the GeoJSON statement.
            started = time.perf_counter()
            selectors.account_tile(scenario=scenario, z=z, x=x, y=y, use_cache=False)
            sql_ms.append((time.perf_counter() - started) * 1000)
            west, south, east, north = _tile_bounds(z, x, y)
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(BASELINE_SQL, [scenario.pk, west, south, east, north])
                body = cursor.fetchone()[0].encode()
            base_ms.append((time.perf_counter() - started) * 1000)
            base_kb.append(len(body) / 1024)
        all_ms += tile_ms
        all_kb += tile_kb
        baseline_all_ms += base_ms
        baseline_all_kb += base_kb
        rows.append((z, len(tiles), statistics.median(tile_ms), _percentile(tile_ms, 0.95), statistics.median(tile_kb),
                     max(tile_kb), statistics.median(base_ms), statistics.median(base_kb)))

    print(f"accounts: {total:,}   scenario: {scenario.pk}   database: {connection.settings_dict['NAME']}")
    header = (f"{'zoom':>4} {'tiles':>5} {'tile med ms':>11} {'tile p95 ms':>11} {'tile med kB':>11} "
              f"{'tile max kB':>11} {'geojson med ms':>14} {'geojson med kB':>14}")
    print(header)
    print("-" * len(header))
    for z, n, med, p95, kb, kb_max, b_ms, b_kb in rows:
        print(f"{z:>4} {n:>5} {med:>11.1f} {p95:>11.1f} {kb:>11.1f} {kb_max:>11.1f} {b_ms:>14.1f} {b_kb:>14.1f}")
    tile_median = statistics.median(all_ms)
    baseline_median = statistics.median(baseline_all_ms)
    tile_sql_median = statistics.median(sql_ms)
    print(f"tile statement alone (same viewports as the GeoJSON): median {tile_sql_median:.1f} ms; "
          f"warm (cached) tile request median: {statistics.median(warm_ms):.1f} ms; "
          f"GeoJSON baseline median payload {statistics.median(baseline_all_kb):.0f} kB, max "
          f"{max(baseline_all_kb):.0f} kB")
    print(json.dumps({
        "accounts": total,
        "tile_median_ms": round(tile_median, 1),
        "tile_p95_ms": round(_percentile(all_ms, 0.95), 1),
        "payload_kb": round(statistics.median(all_kb), 1),
        "payload_max_kb": round(max(all_kb), 1),
        "tile_sql_median_ms": round(tile_sql_median, 1),
        "baseline_ms": round(baseline_median, 1),
        "baseline_kb": round(statistics.median(baseline_all_kb), 1),
        # Total GeoJSON statement time over total tile statement time for the same viewports (>1: tiles faster)
        "ratio": round(sum(baseline_all_ms) / sum(sql_ms), 1) if sum(sql_ms) else None,
    }))


if __name__ == "__main__":
    main()
