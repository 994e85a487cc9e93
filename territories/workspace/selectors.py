"""Read side of the map workspace: hierarchy, balance, simplified boundaries, units, accounts and vector tiles.

Everything that can be large is computed in PostGIS in one statement and limited to a viewport or a tile,
so no response carries the whole data set.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import statistics
from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from territories.models import Scenario, ScenarioEdit, Territory, TerritoryType

logger = logging.getLogger(__name__)

MEASURES = ("accounts", "potential", "workload", "revenue")
# A colour-blind-friendly categorical palette (Tableau 10), used when a territory has no colour of its own.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac")
UNIT_LIMIT = 5000
ACCOUNT_LIMIT = 20000
SELECTION_LIMIT = 20000
TILE_EXTENT = 4096
# Below this zoom a tile carries one feature per small grid cell (with a count) instead of every account.
TILE_RAW_MIN_ZOOM = 13
TILE_CELLS_PER_SIDE = 128
TILE_CACHE_SECONDS = 600
BOUNDARY_CACHE_SECONDS = 3600


@dataclass(frozen=True)
class BBox:
    """A lon/lat rectangle (west, south, east, north)."""

    west: float
    south: float
    east: float
    north: float

    @classmethod
    def parse(cls, text: str | None) -> BBox:
        try:
            west, south, east, north = (float(part) for part in (text or "").split(","))
        except ValueError as exc:
            raise ValueError("bbox must be west,south,east,north in degrees") from exc
        if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
            raise ValueError("bbox is outside lon -180..180, lat -90..90 or south > north")
        return cls(west, south, east, north)


def _cache_get(key: str):
    try:
        return cache.get(key)
    except Exception as exc:  # Redis down: compute instead of failing the map
        logger.warning("Map cache unavailable: %s", exc)
        return None


def _cache_set(key: str, value, timeout: int) -> None:
    try:
        cache.set(key, value, timeout)
    except Exception as exc:
        logger.warning("Map cache unavailable: %s", exc)


def _scenario_cache_key(kind: str, scenario: Scenario, *parts) -> str:
    """A cache key that changes with every edit of the scenario and never collides between databases that
    share one Redis (each test run, the benchmark and the app have their own database)."""
    stamp = scenario.updated_at.timestamp() if scenario.updated_at else 0
    return ":".join(str(p) for p in ("workspace", kind, connection.settings_dict["NAME"], scenario.pk,
                                     scenario.version, stamp, *parts))


def _fetch(sql: str, params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def simplification_for_zoom(zoom: int) -> tuple[float, int]:
    """Tolerance (half a screen pixel, in degrees) and GeoJSON coordinate precision for a web-map zoom."""
    zoom = max(0, min(int(zoom), 22))
    tolerance = 360.0 / (256 * 2**zoom) / 2
    precision = max(2, min(6, math.ceil(-math.log10(tolerance / 4))))
    return tolerance, precision


def workspace_scenarios() -> list[dict]:
    return [
        {"id": s.pk, "name": s.name, "status": s.status, "version": s.version, "is_editable": s.is_editable}
        for s in Scenario.objects.order_by("-status", "name").only("pk", "name", "status", "version")
    ]


def workspace_scenario_default() -> Scenario | None:
    """The scenario the workspace opens on: the most recently changed planning one, else the active one."""
    return (
        Scenario.objects.filter(status=Scenario.Status.PLANNING).order_by("-updated_at").first()
        or Scenario.objects.filter(status=Scenario.Status.ACTIVE).first()
        or Scenario.objects.order_by("-updated_at").first()
    )


def workspace_tree(*, scenario: Scenario, on: dt.date | None = None) -> list[dict]:
    """Every territory of the scenario with its parent, extent, colour, lock and current owner, in one query."""
    on = on or timezone.localdate()
    rows = _fetch(
        """
        SELECT t.id, t.parent_id, t.name, t.code, t.depth, t.level_name, t.color, t.is_locked, t.built_from_units,
               NOT EXISTS (SELECT 1 FROM territories_territory c WHERE c.parent_id = t.id) AS is_leaf,
               ST_XMin(t.boundary), ST_YMin(t.boundary), ST_XMax(t.boundary), ST_YMax(t.boundary),
               owner.rep_id, owner.name, owner.found
        FROM territories_territory t
        LEFT JOIN LATERAL (
            SELECT ra.rep_id, r.name, true AS found FROM reps_repassignment ra
            LEFT JOIN reps_rep r ON r.id = ra.rep_id
            WHERE ra.territory_id = t.id AND ra.role = 'owner' AND ra.valid_from <= %s
              AND (ra.valid_to IS NULL OR ra.valid_to >= %s)
            ORDER BY ra.valid_from DESC LIMIT 1
        ) owner ON true
        WHERE t.scenario_id = %s
        ORDER BY t.depth, t.code
        """,
        [on, on, scenario.pk],
    )
    tree = []
    leaf_index = 0
    for row in rows:
        (pk, parent_id, name, code, depth, level_name, color, is_locked, built_from_units, is_leaf,
         xmin, ymin, xmax, ymax, rep_id, rep_name, has_owner) = row
        if not color:
            color = PALETTE[leaf_index % len(PALETTE)] if is_leaf else "#52606d"
        leaf_index += 1 if is_leaf else 0
        tree.append({
            "id": pk, "parent_id": parent_id, "name": name, "code": code, "depth": depth, "level_name": level_name,
            "color": color, "is_locked": is_locked, "built_from_units": built_from_units, "is_leaf": is_leaf,
            "bbox": [xmin, ymin, xmax, ymax] if xmin is not None else None,
            "owner": ({"id": rep_id, "name": rep_name or "Vacant"} if has_owner else None),
        })
    return tree


def _attainment_by_territory(*, scenario: Scenario) -> dict[int, float]:
    """Latest attainment per territory from KPI snapshots, when the KPI job has computed one."""
    rows = _fetch(
        """
        SELECT DISTINCT ON (territory_id) territory_id, (metrics->>'attainment')::float
        FROM performance_kpisnapshot
        WHERE scenario_id = %s AND territory_id IS NOT NULL AND rep_id IS NULL AND metrics ? 'attainment'
        ORDER BY territory_id, period_end DESC
        """,
        [scenario.pk],
    )
    return {pk: value for pk, value in rows if value is not None}


def _deviation(value: float, mean: float) -> float | None:
    return round((value - mean) / mean * 100, 1) if mean else None


def territory_balance(*, scenario: Scenario) -> dict:
    """Accounts, potential, workload and revenue of every leaf territory, deviation from the mean, contiguity.

    One aggregate over the current assignments; `pieces` is the number of separate parts of the boundary
    (more than one means the territory is not contiguous). Leaves are compared with leaves of the same kind: a
    named-account or product overlay territory is not meant to hold a geographic territory's share, so it is
    measured against its own kind's mean, and the summary describes the main kind (geography when there is any).
    """
    rows = _fetch(
        """
        SELECT t.id, t.code, t.name, t.is_locked, coalesce(tt.kind, ''), COUNT(a.id), COALESCE(SUM(a.potential), 0),
               COALESCE(SUM(a.workload_hours), 0), COALESCE(SUM(a.annual_revenue), 0),
               COALESCE(ST_NumGeometries(t.boundary), 0)
        FROM territories_territory t
        LEFT JOIN territories_territorytype tt ON tt.id = t.territory_type_id
        LEFT JOIN accounts_accountassignment asg ON asg.territory_id = t.id AND asg.valid_to IS NULL
        LEFT JOIN accounts_account a ON a.id = asg.account_id
        WHERE t.scenario_id = %s AND NOT EXISTS (SELECT 1 FROM territories_territory c WHERE c.parent_id = t.id)
        GROUP BY t.id, tt.kind
        ORDER BY t.code
        """,
        [scenario.pk],
    )
    attainment = _attainment_by_territory(scenario=scenario)
    territories = [
        {"id": pk, "code": code, "name": name, "is_locked": is_locked, "kind": kind, "accounts": count,
         "potential": float(potential), "workload": round(float(workload), 2), "revenue": float(revenue),
         "attainment": attainment.get(pk), "pieces": pieces}
        for pk, code, name, is_locked, kind, count, potential, workload, revenue, pieces in rows
    ]
    groups: dict[str, list[dict]] = {}
    for item in territories:
        groups.setdefault(item["kind"], []).append(item)
    main_kind = TerritoryType.Kind.GEOGRAPHY if TerritoryType.Kind.GEOGRAPHY in groups else max(
        groups, key=lambda kind: len(groups[kind]), default="")
    summary = {}
    for measure in MEASURES:
        for members in groups.values():
            mean = statistics.fmean(item[measure] for item in members)
            for item in members:
                item.setdefault("deviation", {})[measure] = _deviation(item[measure], mean)
        main = groups.get(main_kind, [])
        values = [item[measure] for item in main]
        mean = statistics.fmean(values) if values else 0.0
        deviations = [abs(item["deviation"][measure]) for item in main if item["deviation"][measure] is not None]
        summary[measure] = {
            "total": round(sum(item[measure] for item in territories), 2),
            "mean": round(mean, 2),
            "max_deviation": max(deviations) if deviations else None,
            "cv": round(statistics.pstdev(values) / mean, 3) if mean and len(values) > 1 else None,
        }
    warnings = [
        f"{item['code']} {item['name']} is in {item['pieces']} separate pieces" for item in territories
        if item["pieces"] > 1
    ]
    return {"scenario": scenario.pk, "version": scenario.version, "territories": territories, "summary": summary,
            "compared": {"kind": main_kind, "label": _kind_label(main_kind),
                         "territories": len(groups.get(main_kind, []))},
            "apart": [{"kind": kind, "label": _kind_label(kind), "territories": len(members)}
                      for kind, members in sorted(groups.items()) if kind != main_kind],
            "warnings": warnings}


def _kind_label(kind: str) -> str:
    return TerritoryType.Kind(kind).label if kind in TerritoryType.Kind.values else "Untyped"


def boundaries_geojson(*, scenario: Scenario, zoom: int) -> str:
    """Leaf boundaries as a GeoJSON FeatureCollection, simplified to half a pixel at `zoom`, cached per version."""
    tolerance, precision = simplification_for_zoom(zoom)
    key = _scenario_cache_key("boundaries", scenario, max(0, min(int(zoom), 22)))
    cached = _cache_get(key)
    if cached is not None:
        return cached
    (text,) = _fetch(
        """
        SELECT json_build_object('type', 'FeatureCollection', 'features', COALESCE(json_agg(json_build_object(
            'type', 'Feature', 'id', t.id,
            'properties', json_build_object('id', t.id, 'code', t.code, 'name', t.name),
            'geometry', ST_AsGeoJSON(ST_Multi(ST_SimplifyPreserveTopology(t.boundary, %s)), %s)::json
        ) ORDER BY t.code), '[]'::json))::text
        FROM territories_territory t
        WHERE t.scenario_id = %s AND t.boundary IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM territories_territory c WHERE c.parent_id = t.id)
        """,
        [tolerance, precision, scenario.pk],
    )[0]
    _cache_set(key, text, BOUNDARY_CACHE_SECONDS)
    return text


def units_geojson(*, scenario: Scenario, bbox: BBox, zoom: int, limit: int = UNIT_LIMIT) -> dict:
    """The scenario's geo units in the viewport with their territory, simplified for `zoom`, at most `limit`."""
    tolerance, precision = simplification_for_zoom(zoom)
    rows = _fetch(
        """
        SELECT u.id, u.code, u.name, tu.territory_id,
               ST_AsGeoJSON(ST_SimplifyPreserveTopology(u.geometry, %s), %s)
        FROM territories_territoryunit tu
        JOIN territories_geounit u ON u.id = tu.unit_id
        WHERE tu.scenario_id = %s AND u.geometry && ST_MakeEnvelope(%s, %s, %s, %s, 4326)
        ORDER BY u.id
        LIMIT %s
        """,
        [tolerance, precision, scenario.pk, bbox.west, bbox.south, bbox.east, bbox.north, limit + 1],
    )
    features = [
        {"type": "Feature", "id": pk, "properties": {"id": pk, "code": code, "name": name, "territory": territory_id},
         "geometry": json.loads(geometry)}
        for pk, code, name, territory_id, geometry in rows[:limit]
    ]
    return {"type": "FeatureCollection", "features": features, "truncated": len(rows) > limit}


def accounts_in_bbox(*, scenario: Scenario, bbox: BBox, limit: int = ACCOUNT_LIMIT) -> dict:
    """Accounts in the viewport as compact rows [id, lon, lat, territory id], at most `limit` of them.

    When the viewport holds more, `truncated` is true and the page switches to vector tiles.
    """
    rows = _fetch(
        """
        SELECT a.id, round(ST_X(a.location)::numeric, 6), round(ST_Y(a.location)::numeric, 6), asg.territory_id
        FROM accounts_account a
        LEFT JOIN LATERAL (
            SELECT territory_id FROM accounts_accountassignment
            WHERE account_id = a.id AND scenario_id = %s AND valid_to IS NULL ORDER BY valid_from DESC LIMIT 1
        ) asg ON true
        WHERE a.location && ST_MakeEnvelope(%s, %s, %s, %s, 4326)
        ORDER BY a.id
        LIMIT %s
        """,
        [scenario.pk, bbox.west, bbox.south, bbox.east, bbox.north, limit + 1],
    )
    return {
        "accounts": [[pk, float(lon), float(lat), territory_id] for pk, lon, lat, territory_id in rows[:limit]],
        "truncated": len(rows) > limit,
    }


ACCOUNT_TILE_CELLS_SQL = """
WITH env AS (
    SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS merc,
           ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 0.02), 4326) AS geo
), cells AS (
    -- bucket in lon/lat (cheap arithmetic, index-driven filter); only the cell centres are projected
    SELECT floor((ST_X(a.location) - ST_XMin(env.geo)) / %(cell_x)s) AS cx,
           floor((ST_Y(a.location) - ST_YMin(env.geo)) / %(cell_y)s) AS cy,
           count(*) AS n, min(a.id) AS first_id, avg(ST_X(a.location)) AS lon, avg(ST_Y(a.location)) AS lat
    FROM accounts_account a, env
    WHERE a.location && env.geo
    GROUP BY 1, 2
), features AS (
    SELECT ST_AsMVTGeom(ST_Transform(ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326), 3857), env.merc,
                        %(extent)s, 16, true) AS geom,
           c.n::int AS count, CASE WHEN c.n = 1 THEN c.first_id END AS id
    FROM cells c, env
)
SELECT ST_AsMVT(features, 'accounts', %(extent)s, 'geom') FROM features WHERE geom IS NOT NULL
"""

ACCOUNT_TILE_RAW_SQL = """
WITH env AS (
    SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS merc,
           ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 0.02), 4326) AS geo
), features AS (
    SELECT ST_AsMVTGeom(ST_Transform(a.location, 3857), env.merc, %(extent)s, 16, true) AS geom,
           a.id, 1 AS count, asg.territory_id AS territory
    FROM accounts_account a
    CROSS JOIN env
    LEFT JOIN LATERAL (
        SELECT territory_id FROM accounts_accountassignment
        WHERE account_id = a.id AND scenario_id = %(scenario)s AND valid_to IS NULL ORDER BY valid_from DESC LIMIT 1
    ) asg ON true
    WHERE a.location && env.geo
)
SELECT ST_AsMVT(features, 'accounts', %(extent)s, 'geom') FROM features WHERE geom IS NOT NULL
"""


def _tile_degrees(z: int, y: int) -> tuple[float, float]:
    """Width and height in degrees of tile (z, y) (height varies with latitude in Web Mercator)."""
    n = 2**z

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return 360.0 / n, lat(y) - lat(y + 1)


def account_tile_sql(*, scenario_id: int, z: int, x: int, y: int) -> tuple[str, dict]:
    """The one SQL statement (and parameters) that builds the accounts vector tile z/x/y."""
    params = {"z": z, "x": x, "y": y, "extent": TILE_EXTENT, "scenario": scenario_id}
    if z >= TILE_RAW_MIN_ZOOM:
        return ACCOUNT_TILE_RAW_SQL, params
    width, height = _tile_degrees(z, y)
    params.update(cell_x=width / TILE_CELLS_PER_SIDE, cell_y=height / TILE_CELLS_PER_SIDE)
    return ACCOUNT_TILE_CELLS_SQL, params


def account_tile(*, scenario: Scenario, z: int, x: int, y: int, use_cache: bool = True) -> bytes:
    """The accounts vector tile (Mapbox Vector Tile) z/x/y, cached in Redis by scenario version.

    Below zoom TILE_RAW_MIN_ZOOM a feature is a grid cell of about 2 pixels with its account count
    (and the account id when the cell holds one account); from that zoom on, one feature per account with
    its territory in the scenario.
    """
    if not (0 <= z <= 22 and 0 <= x < 2**z and 0 <= y < 2**z):
        raise ValueError("no such tile")
    key = _scenario_cache_key("tile", scenario, z, x, y)
    if use_cache:
        cached = _cache_get(key)
        if cached is not None:
            return cached
    sql, params = account_tile_sql(scenario_id=scenario.pk, z=z, x=x, y=y)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        tile = bytes(cursor.fetchone()[0] or b"")
    if use_cache:
        _cache_set(key, tile, TILE_CACHE_SECONDS)
    return tile


def selection_in_shape(*, scenario: Scenario, geometry: dict, target: str, limit: int = SELECTION_LIMIT) -> dict:
    """Ids of the scenario's geo units (target "units") or accounts (target "accounts") inside a drawn shape."""
    shape = json.dumps(geometry)
    if target == "units":
        rows = _fetch(
            """
            SELECT tu.unit_id, tu.territory_id FROM territories_territoryunit tu
            JOIN territories_geounit u ON u.id = tu.unit_id
            WHERE tu.scenario_id = %s
              AND ST_Intersects(u.geometry, ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326)))
            ORDER BY tu.unit_id LIMIT %s
            """,
            [scenario.pk, shape, limit + 1],
        )
    elif target == "accounts":
        rows = _fetch(
            """
            SELECT a.id, asg.territory_id FROM accounts_account a
            LEFT JOIN LATERAL (
                SELECT territory_id FROM accounts_accountassignment
                WHERE account_id = a.id AND scenario_id = %s AND valid_to IS NULL ORDER BY valid_from DESC LIMIT 1
            ) asg ON true
            WHERE ST_Intersects(a.location, ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326)))
            ORDER BY a.id LIMIT %s
            """,
            [scenario.pk, shape, limit + 1],
        )
    else:
        raise ValueError("target must be units or accounts")
    return {"target": target, "ids": [pk for pk, _ in rows[:limit]],
            "territories": sorted({t for _, t in rows[:limit] if t is not None}), "truncated": len(rows) > limit}


def scenario_edit_state(*, scenario: Scenario) -> dict:
    """Whether undo and redo are available, and the last few edits, for the edit toolbar."""
    edits = list(ScenarioEdit.objects.filter(scenario=scenario).order_by("-sequence")[:20])
    return {
        "can_undo": any(not edit.is_undone for edit in edits),
        "can_redo": any(edit.is_undone for edit in edits),
        "recent": [
            {"sequence": e.sequence, "kind": e.kind, "summary": e.summary, "is_undone": e.is_undone,
             "created_at": e.created_at.isoformat()}
            for e in edits
        ],
    }


def territory_measures(*, territory: Territory) -> dict:
    """Accounts, potential, workload and revenue of a territory's whole subtree, from current assignments."""
    (row,) = _fetch(
        """
        WITH RECURSIVE subtree(id) AS (
            SELECT id FROM territories_territory WHERE id = %s
            UNION ALL SELECT c.id FROM territories_territory c JOIN subtree s ON c.parent_id = s.id
        )
        SELECT COUNT(a.id), COALESCE(SUM(a.potential), 0), COALESCE(SUM(a.workload_hours), 0),
               COALESCE(SUM(a.annual_revenue), 0)
        FROM accounts_accountassignment asg
        JOIN accounts_account a ON a.id = asg.account_id
        WHERE asg.territory_id IN (SELECT id FROM subtree) AND asg.valid_to IS NULL
        """,
        [territory.pk],
    )
    count, potential, workload, revenue = row
    return {"accounts": count, "potential": float(potential), "workload": round(float(workload), 2),
            "revenue": float(revenue), "pieces": territory.boundary.num_geom if territory.boundary else 0}


def territory_accounts(*, territory: Territory, limit: int = 100) -> list:
    """The accounts currently in a territory's subtree, largest potential first."""
    from accounts.selectors import accounts_in_territories
    from territories.selectors import territory_descendant_ids

    accounts = accounts_in_territories(scenario=territory.scenario,
                                       territory_ids=territory_descendant_ids(territory=territory))
    return list(accounts.order_by("-potential", "name")[:limit])


def territory_reps(*, territory: Territory) -> list:
    """Everyone who has covered the territory (owner, overlay, specialist, vacancies), newest first."""
    return list(territory.rep_assignments.select_related("rep").order_by("-valid_from"))


def territory_history(*, territory: Territory, limit: int = 30) -> list[dict]:
    """What happened to a territory, newest first: map edits, changes to its record, accounts in and out."""
    from accounts.models import AccountAssignment

    events = [
        {"at": edit.created_at, "what": ("Undone: " if edit.is_undone else "") + edit.summary,
         "who": str(edit.actor) if edit.actor_id else ""}
        for edit in ScenarioEdit.objects.filter(territory_ids__contains=[territory.pk]).select_related("actor")
        .order_by("-created_at")[:limit]
    ]
    for record in territory.history.select_related("history_user").order_by("-history_date")[:limit]:
        label = {"+": "Created", "~": "Changed", "-": "Deleted"}[record.history_type]
        events.append({"at": record.history_date,
                       "what": f"{label}{' (locked)' if record.is_locked else ''}",
                       "who": str(record.history_user) if record.history_user_id else ""})
    assignments = (AccountAssignment.objects.filter(territory=territory).select_related("account")
                   .order_by("-valid_from")[:limit])
    for assignment in assignments:
        events.append({"at": assignment.valid_from,
                       "what": f"{assignment.account.name} in ({assignment.get_source_display().lower()})",
                       "who": ""})
        if assignment.valid_to:
            events.append({"at": assignment.valid_to, "what": f"{assignment.account.name} out", "who": ""})
    events.sort(key=lambda event: event["at"], reverse=True)
    return events[:limit]
