"""Boundaries: validation and repair, boundaries built from geo units, sibling overlaps and gaps."""

import json
from typing import Any

import shapely
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from shapely.geometry import shape

from territories.models import GeoUnit, Territory, TerritoryUnit
from territories.services.scenarios import scenario_ensure_editable, scenario_touch

SRID = 4326


def _close_rings(geojson: dict, issues: list[dict]) -> dict:
    """GEOS cannot even build an unclosed ring, so rings are closed here, on the raw coordinates, and reported."""
    kind = geojson.get("type")
    if kind not in {"Polygon", "MultiPolygon"}:
        return geojson
    polygons = [geojson.get("coordinates") or []] if kind == "Polygon" else (geojson.get("coordinates") or [])
    fixed_polygons = []
    for polygon_index, polygon in enumerate(polygons):
        fixed_rings = []
        for ring_index, ring in enumerate(polygon):
            ring = [list(point[:2]) for point in ring]
            if len(ring) >= 3 and ring[0] != ring[-1]:
                ring.append(list(ring[0]))
                issues.append(
                    {
                        "code": "ring_closed",
                        "message": f"Ring {ring_index} of polygon {polygon_index} was not closed; closed it.",
                    }
                )
            if len(ring) < 4:
                raise ValidationError(
                    f"Ring {ring_index} of polygon {polygon_index} has fewer than 3 distinct points; "
                    "it cannot enclose an area."
                )
            fixed_rings.append(ring)
        fixed_polygons.append(fixed_rings)
    coordinates = fixed_polygons[0] if kind == "Polygon" else fixed_polygons
    return {"type": kind, "coordinates": coordinates}


def _to_shapely(geometry: Any, issues: list[dict]):
    if isinstance(geometry, GEOSGeometry):
        if geometry.srid and geometry.srid != SRID:
            geometry = geometry.transform(SRID, clone=True)
        return shapely.from_wkb(bytes(geometry.wkb))
    if isinstance(geometry, str):
        text = geometry.strip()
        if text.startswith("{"):
            geometry = json.loads(text)
        else:
            try:
                return shapely.from_wkt(text)
            except shapely.errors.GEOSException as exc:
                raise ValidationError(f"Could not read the geometry: {exc}") from None
    if isinstance(geometry, dict):
        if geometry.get("type") == "Feature":
            geometry = geometry.get("geometry") or {}
        geometry = _close_rings(geometry, issues)
        try:
            return shape(geometry)
        except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException) as exc:
            raise ValidationError(f"Could not read the geometry: {exc}") from None
    raise ValidationError("Give the geometry as GeoJSON, WKT or a GEOS geometry.")


def _check_range(geom) -> None:
    xmin, ymin, xmax, ymax = geom.bounds
    if xmin < -180 or xmax > 180 or ymin < -90 or ymax > 90:
        coords = shapely.get_coordinates(geom)
        bad = next((x, y) for x, y in coords if not (-180 <= x <= 180 and -90 <= y <= 90))
        raise ValidationError(
            f"Coordinate ({bad[0]:g}, {bad[1]:g}) is out of range: longitude must be between -180 and 180 and "
            "latitude between -90 and 90 (WGS 84, EPSG:4326). If the data is projected (metres or feet), "
            "re-project it to EPSG:4326 first; if longitude and latitude are swapped, swap them back."
        )


def _polygonal(geom):
    """The polygon parts of a geometry (make_valid may add stray lines or points)."""
    parts = [part for part in shapely.get_parts(geom) if part.geom_type in {"Polygon", "MultiPolygon"}]
    polygons = []
    for part in parts:
        polygons.extend(shapely.get_parts(part) if part.geom_type == "MultiPolygon" else [part])
    return shapely.MultiPolygon([p for p in polygons if not p.is_empty])


def geometry_clean(*, geometry: Any, repair: bool = True) -> tuple[MultiPolygon, dict]:
    """A valid, counter-clockwise (RFC 7946) MultiPolygon in EPSG:4326 and a report of what was fixed.

    Out-of-range coordinates and non-polygon shapes are always refused; other defects (self-intersections,
    unclosed or wrongly ordered rings, duplicate points) are repaired when `repair` is true, else refused.
    """
    issues: list[dict] = []
    geom = _to_shapely(geometry, issues)
    if geom is None or geom.is_empty:
        raise ValidationError("The geometry is empty.")
    if geom.geom_type not in {"Polygon", "MultiPolygon", "GeometryCollection"}:
        raise ValidationError(f"A boundary must be a polygon or multipolygon, not a {geom.geom_type}.")
    _check_range(geom)
    area_before = float(geom.area)
    if not shapely.is_valid(geom):
        reason = shapely.is_valid_reason(geom)
        if not repair:
            raise ValidationError(f"Invalid geometry: {reason}. Repair it, or ask for an automatic repair.")
        geom = shapely.make_valid(geom)
        issues.append({"code": "invalid", "message": f"{reason}; repaired with make_valid."})
    polygonal = _polygonal(geom)
    if polygonal.is_empty:
        raise ValidationError("The geometry encloses no area.")
    if len(shapely.get_parts(geom)) != len(shapely.get_parts(polygonal)) and geom.geom_type == "GeometryCollection":
        issues.append({"code": "non_polygon_parts", "message": "Dropped parts that were lines or points."})
    oriented = shapely.orient_polygons(polygonal, exterior_cw=False)
    repaired_already = any(issue["code"] == "invalid" for issue in issues)  # make_valid picks its own order
    if not repaired_already and not shapely.equals_exact(oriented, polygonal, tolerance=0):
        issues.append(
            {
                "code": "reoriented",
                "message": "Rings were re-ordered: exterior counter-clockwise, holes clockwise (RFC 7946).",
            }
        )
    if issues and not repair:
        raise ValidationError("; ".join(issue["message"] for issue in issues))
    area_after = float(oriented.area)
    result = GEOSGeometry(memoryview(shapely.to_wkb(oriented)), srid=SRID)
    if not isinstance(result, MultiPolygon):
        result = MultiPolygon(result, srid=SRID)
    report = {
        "valid": not any(issue["code"] == "invalid" for issue in issues),
        "repaired": bool(issues),
        "issues": issues,
        "parts": len(result),
        "area_change_ratio": (round(area_after / area_before, 6) if area_before else None),
    }
    return result, report


def _reallocate_territories(*, scenario, territory_ids, trigger: str) -> None:
    """Queue the re-allocation of the accounts these territories hold or now take (after commit)."""
    from accounts.services.allocation import allocation_queue_for_territories

    allocation_queue_for_territories(scenario=scenario, territory_ids=territory_ids, trigger=trigger)


@transaction.atomic
def territory_boundary_set(
    *, territory: Territory, boundary: Any, repair: bool = True, reallocate: bool = True
) -> dict:
    """Replace a drawn boundary (validated, repaired if asked); returns the repair report. When the scenario has
    assignments, the accounts the territory held or now covers are re-allocated by a job queued on commit
    (`reallocate=False` leaves that to the caller)."""
    scenario_ensure_editable(scenario=territory.scenario)
    if territory.built_from_units:
        raise ValidationError(
            f"{territory.code}'s boundary is the union of its geo units; change its units instead, or detach it "
            "from its units first."
        )
    cleaned, report = (
        (None, {"issues": [], "repaired": False})
        if boundary is None
        else geometry_clean(geometry=boundary, repair=repair)
    )
    Territory.objects.filter(pk=territory.pk).update(boundary=cleaned, version=territory.version + 1)
    territory.refresh_from_db()
    scenario_touch(scenario=territory.scenario)
    if reallocate:
        _reallocate_territories(
            scenario=territory.scenario, territory_ids=[territory.pk], trigger=f"Boundary of {territory.code} changed"
        )
    return report


_REBUILD_SQL = """
UPDATE territories_territory t
SET boundary = built.geom, version = t.version + 1, updated_at = now()
FROM (
    SELECT t2.id,
           (SELECT ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Union(u.geometry)), 3))
            FROM territories_territoryunit tu JOIN territories_geounit u ON u.id = tu.unit_id
            WHERE tu.territory_id = t2.id) AS geom
    FROM territories_territory t2 WHERE t2.id = ANY(%s) AND t2.built_from_units
) built
WHERE t.id = built.id
"""


def territory_boundary_rebuild(*, territory_ids: list[int]) -> int:
    """Set each unit-built territory's boundary to the union of its units (empty when it has none), in SQL."""
    if not territory_ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_REBUILD_SQL, [list(territory_ids)])
        return cursor.rowcount


@transaction.atomic
def territory_units_set(
    *, territory: Territory, unit_ids: list[int], mode: str = "replace", reallocate: bool = True
) -> dict:
    """Put geo units in a territory ("replace" its units, "add" or "remove" some). A unit belongs to one
    territory per scenario, so adding takes it from its previous territory; every touched boundary is rebuilt,
    and (when the scenario has assignments) the touched territories are re-allocated by a job queued on commit."""
    if mode not in {"replace", "add", "remove"}:
        raise ValidationError("Mode must be replace, add or remove.")
    scenario = territory.scenario
    scenario_ensure_editable(scenario=scenario)
    unit_ids = sorted(set(unit_ids))
    found = set(GeoUnit.objects.filter(pk__in=unit_ids).values_list("pk", flat=True))
    missing = [pk for pk in unit_ids if pk not in found]
    if missing:
        raise ValidationError(f"Unknown geo units: {', '.join(map(str, missing[:20]))}.")
    touched = {territory.pk}
    with connection.cursor() as cursor:
        if mode == "remove":
            cursor.execute(
                "DELETE FROM territories_territoryunit WHERE territory_id = %s AND unit_id = ANY(%s)",
                [territory.pk, unit_ids],
            )
            removed, taken = cursor.rowcount, 0
        else:
            removed = 0
            if mode == "replace":
                cursor.execute(
                    "DELETE FROM territories_territoryunit WHERE territory_id = %s AND NOT (unit_id = ANY(%s))",
                    [territory.pk, unit_ids],
                )
                removed = cursor.rowcount
            cursor.execute(
                "DELETE FROM territories_territoryunit WHERE scenario_id = %s AND unit_id = ANY(%s) "
                "AND territory_id <> %s RETURNING territory_id",
                [scenario.pk, unit_ids, territory.pk],
            )
            previous = [row[0] for row in cursor.fetchall()]
            taken = len(previous)
            touched.update(previous)
            cursor.execute(
                "INSERT INTO territories_territoryunit (scenario_id, territory_id, unit_id) "
                "SELECT %s, %s, unnest(%s::bigint[]) ON CONFLICT DO NOTHING",
                [scenario.pk, territory.pk, unit_ids],
            )
    Territory.objects.filter(pk=territory.pk).update(built_from_units=True)
    territory_boundary_rebuild(territory_ids=sorted(touched))
    scenario_touch(scenario=scenario)
    territory.refresh_from_db()
    if reallocate:
        _reallocate_territories(
            scenario=scenario, territory_ids=touched, trigger=f"Geo units of {territory.code} changed"
        )
    return {
        "territory": territory.code,
        "units": TerritoryUnit.objects.filter(territory=territory).count(),
        "removed": removed,
        "taken_from_other_territories": taken,
        "rebuilt": sorted(Territory.objects.filter(pk__in=touched).values_list("code", flat=True)),
    }


_OVERLAPS_SQL = """
SELECT a.id, a.code, b.id, b.code,
       ST_Area(ST_Intersection(a.boundary, b.boundary)::geography) AS area_m2
FROM territories_territory a
JOIN territories_territory b
  ON b.scenario_id = a.scenario_id AND a.parent_id IS NOT DISTINCT FROM b.parent_id AND a.id < b.id
 AND ST_Intersects(a.boundary, b.boundary)
WHERE a.scenario_id = %(scenario)s {parent_filter}
"""

_GAPS_SQL = """
SELECT p.id, p.code, ST_Area(g.gap::geography) AS area_m2, ST_AsGeoJSON(g.gap, 6) AS geojson
FROM territories_territory p
CROSS JOIN LATERAL (
    SELECT ST_CollectionExtract(ST_Difference(p.boundary, coalesce(ST_Union(c.boundary),
           'SRID=4326;GEOMETRYCOLLECTION EMPTY'::geometry)), 3) AS gap
    FROM territories_territory c WHERE c.parent_id = p.id AND c.boundary IS NOT NULL
) g
WHERE p.scenario_id = %(scenario)s AND p.boundary IS NOT NULL
  AND EXISTS (SELECT 1 FROM territories_territory c WHERE c.parent_id = p.id) {parent_filter}
"""


def territory_overlaps_and_gaps(*, scenario, parent: Territory | None = None, min_area_m2: float = 1.0) -> dict:
    """Sibling territories whose boundaries overlap (pairs with the shared area), and the parts of each parent
    not covered by any child. Areas are in square metres on the spheroid; slivers under min_area_m2 are ignored.
    """
    parent_filter = "" if parent is None else "AND a.parent_id = %(parent)s"
    params = {"scenario": scenario.pk, "parent": parent.pk if parent else None}
    overlaps, gaps = [], []
    with connection.cursor() as cursor:
        cursor.execute(_OVERLAPS_SQL.format(parent_filter=parent_filter), params)
        for a_id, a_code, b_id, b_code, area in cursor.fetchall():
            if area and area >= min_area_m2:
                overlaps.append(
                    {
                        "territory_a": a_code,
                        "territory_b": b_code,
                        "territory_a_id": a_id,
                        "territory_b_id": b_id,
                        "overlap_m2": round(area, 1),
                        "overlap_km2": round(area / 1e6, 4),
                    }
                )
        cursor.execute(_GAPS_SQL.format(parent_filter="" if parent is None else "AND p.id = %(parent)s"), params)
        for parent_id, parent_code, area, geojson in cursor.fetchall():
            if area and area >= min_area_m2:
                gaps.append(
                    {
                        "parent": parent_code,
                        "parent_id": parent_id,
                        "gap_m2": round(area, 1),
                        "gap_km2": round(area / 1e6, 4),
                        "geometry": json.loads(geojson),
                    }
                )
    overlaps.sort(key=lambda item: -item["overlap_m2"])
    return {"overlaps": overlaps, "gaps": gaps}
