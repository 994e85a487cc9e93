"""Finer geo units where the demo's accounts are dense: counties cut into grid cells, as a product ships postcodes.

Counties are too coarse to balance dozens of territories on potential: Los Angeles alone holds several territories'
worth and some forty counties more than half of one. A real customer imports postcode (ZIP) polygons, which are small
where business is dense; the demo has no postcode file, so it cuts each county holding more than `limit` potential into
squares of a quadtree (a square is cut in four while the accounts inside it, within the county, hold more than
`limit`, down to `min_size_degrees`) and clips each square to the county. The cells tile their county exactly, so the
territories built from them have the same outline as those built from counties.

The grid is in degrees with power-of-two sizes from a fixed origin, so every corner is exact in binary floating point.
Where a large square meets two smaller ones, the corner between the small ones is inserted into the large one's edge
too (`cells_conform`): the optimiser projects the units before it measures shared edges, and an edge that one side
has as one segment and the other as two is not straight in the projection, so without that vertex the two would share
no stretch of boundary and not be neighbours.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import shapely

from territories.models import GeoUnit, GeoUnitLayer

from .copy import copy_columns, text_field

CELL_LAYER_NAME = "US metro cells"
ROOT_SIZE_DEGREES = 0.5  # the coarsest square (~55 km north-south)
MIN_SIZE_DEGREES = 0.5 / 32  # the finest (~1.7 km): below that the jittered accounts are not denser any more
CELL_LIMIT_SHARE = 0.2  # of a territory's mean potential: the most a cell holds unless one account holds more


@dataclass
class Cell:
    """One grid cell of a county: its code (county FIPS, size level and square), name, potential and polygon."""

    county: int  # index into the geography's counties
    code: str
    name: str
    geometry: object  # shapely (Multi)Polygon, lon/lat
    potential: float


def county_cells(
    *,
    county: int,
    code: str,
    name: str,
    geometry,
    lon: np.ndarray,
    lat: np.ndarray,
    potential: np.ndarray,
    limit: float,
    root_size: float = ROOT_SIZE_DEGREES,
    min_size: float = MIN_SIZE_DEGREES,
) -> list[Cell]:
    """Cut one county into quadtree cells of at most `limit` potential (unless already `min_size`).

    `lon`, `lat`, `potential` are the accounts inside the county. Squares are half-open ([x0, x0 + size)), so an
    account on a grid line is counted once. Cells are numbered in a fixed order (size, then south-west to north-east).
    """
    xmin, ymin, xmax, ymax = shapely.bounds(geometry)
    pending = [
        (x0, y0, root_size)
        for x0 in np.arange(np.floor(xmin / root_size) * root_size, xmax, root_size)
        for y0 in np.arange(np.floor(ymin / root_size) * root_size, ymax, root_size)
    ]
    squares: list[tuple[float, float, float, float]] = []  # x0, y0, size, potential
    while pending:
        x0, y0, size = pending.pop()
        inside = (lon >= x0) & (lon < x0 + size) & (lat >= y0) & (lat < y0 + size)
        value = float(potential[inside].sum())
        if value > limit and size > min_size:
            half = size / 2.0
            pending.extend([(x0, y0, half), (x0 + half, y0, half), (x0, y0 + half, half), (x0 + half, y0 + half, half)])
        else:
            squares.append((x0, y0, size, value))
    squares.sort(key=lambda s: (-s[2], s[1], s[0]))
    boxes = shapely.box([s[0] for s in squares], [s[1] for s in squares],
                        [s[0] + s[2] for s in squares], [s[1] + s[2] for s in squares])
    pieces = shapely.intersection(boxes, geometry, grid_size=None)
    cells = []
    for square, piece in zip(squares, pieces, strict=True):
        polygons = [part for part in shapely.get_parts(piece) if part.geom_type == "Polygon" and part.area > 0]
        if not polygons:
            continue
        number = len(cells) + 1
        cells.append(Cell(county=county, code=f"{code}-{number:03d}", name=f"{name} – cell {number}",
                          geometry=shapely.multipolygons(polygons), potential=square[3]))
    return cells


def cells_conform(cells: list[Cell]) -> None:
    """Insert into each cell the vertices of touching cells that lie on its edges (T-junctions of the quadtree,
    where grid lines of different depths meet a shared county border), so neighbours share identical edges."""
    if len(cells) < 2:
        return
    geometries = np.array([cell.geometry for cell in cells], dtype=object)
    left, right = shapely.STRtree(geometries).query(geometries, predicate="touches")
    order = np.argsort(left, kind="stable")
    left, right = left[order], right[order]
    starts = np.searchsorted(left, np.arange(len(cells)))
    stops = np.searchsorted(left, np.arange(len(cells)), side="right")
    for i, (start, stop) in enumerate(zip(starts.tolist(), stops.tolist(), strict=True)):
        if stop <= start:
            continue
        corners = shapely.multipoints(shapely.get_coordinates(geometries[right[start:stop]]))
        snapped = shapely.snap(geometries[i], corners, 1e-10)
        if snapped.is_valid and abs(snapped.area - geometries[i].area) <= 1e-12 * geometries[i].area:
            cells[i].geometry = shapely.multipolygons(shapely.get_parts(snapped))


def metro_cells_plan(*, geography, lon: np.ndarray, lat: np.ndarray, potential: np.ndarray,
                     limit: float) -> dict[int, list[Cell]]:
    """Cells of every county whose accounts hold more than `limit` potential, by county index."""
    tree = shapely.STRtree(geography.county_geometries)
    points = shapely.points(lon, lat)
    point_index, county_index = tree.query(points, predicate="intersects")
    order = np.lexsort((county_index, point_index))
    point_index, county_index = point_index[order], county_index[order]
    first = np.r_[True, point_index[1:] != point_index[:-1]] if len(point_index) else np.zeros(0, dtype=bool)
    located = np.full(len(lon), -1, dtype=np.int64)
    located[point_index[first]] = county_index[first]
    county_potential = np.bincount(located[located >= 0], potential[located >= 0],
                                   minlength=len(geography.county_codes))
    plan: dict[int, list[Cell]] = {}
    for county in np.flatnonzero(county_potential > limit).tolist():
        members = located == county
        plan[county] = county_cells(
            county=county, code=geography.county_codes[county], name=f"{geography.county_names[county]}, "
            f"{geography.county_states[county]}", geometry=geography.county_geometries[county],
            lon=lon[members], lat=lat[members], potential=potential[members], limit=limit,
        )
    cells_conform([cell for county in sorted(plan) for cell in plan[county]])
    return plan


def cell_layer_replace(*, cells: dict[int, list[Cell]]) -> tuple[GeoUnitLayer, dict[str, int]]:
    """The "US metro cells" layer with exactly these cells (they follow the accounts, so each seed writes its own);
    returns it and unit ids by cell code."""
    layer, _ = GeoUnitLayer.objects.get_or_create(
        name=CELL_LAYER_NAME,
        defaults={"kind": "grid", "source": "Generated by seed_demo: the densest counties cut into quadtree squares "
                                            "(the demo's stand-in for postcodes)"},
    )
    GeoUnit.objects.filter(layer=layer).delete()
    flat = [cell for county in sorted(cells) for cell in cells[county]]
    if flat:
        geometries = shapely.set_srid(np.array([cell.geometry for cell in flat], dtype=object), 4326)
        ewkb = shapely.to_wkb(geometries, hex=True, include_srid=True)
        layer_id = str(layer.pk)

        def render(start, stop):
            chunk = flat[start:stop]
            return (
                [layer_id] * (stop - start),
                text_field([cell.code for cell in chunk]),
                text_field([cell.name for cell in chunk]),
                ewkb[start:stop].tolist(),
                text_field([json.dumps({"county_fips": cell.code.split("-")[0]}) for cell in chunk]),
            )

        copy_columns(table=GeoUnit._meta.db_table, columns=["layer_id", "code", "name", "geometry", "attributes"],
                     rows=len(flat), render=render, chunk=1000)
    return layer, dict(GeoUnit.objects.filter(layer=layer).values_list("code", "id"))
