"""The demo's grid cells: dense counties cut into quadtree squares that tile the county and hold little each."""

import numpy as np
import pytest
import shapely

from core.demo.cells import Cell, cells_conform, county_cells
from territories.optimizer import UnitSet

# a county shaped like a lopsided hexagon, a degree across, with a city in its south-west
COUNTY = shapely.MultiPolygon([shapely.Polygon([(-100.0, 40.0), (-99.1, 40.05), (-98.95, 40.6), (-99.3, 41.0),
                                                (-99.9, 40.95), (-100.05, 40.5)])])


def _accounts(count: int = 400, seed: int = 3):
    rng = np.random.default_rng(seed)
    lon = rng.normal(-99.7, 0.06, count)
    lat = rng.normal(40.3, 0.06, count)
    inside = shapely.contains_xy(COUNTY, lon, lat)
    return lon[inside], lat[inside], rng.lognormal(3.0, 1.0, count)[inside]


def _cells(limit_share: float = 0.05):
    lon, lat, potential = _accounts()
    cells = county_cells(county=0, code="99001", name="Test, XX", geometry=COUNTY, lon=lon, lat=lat,
                         potential=potential, limit=limit_share * potential.sum())
    return cells, potential


def test_cells_tile_the_county_without_overlaps():
    cells, _ = _cells()
    geometries = [cell.geometry for cell in cells]
    assert len(cells) > 10
    assert sum(g.area for g in geometries) == pytest.approx(COUNTY.area, rel=1e-9)
    assert shapely.union_all(geometries).symmetric_difference(COUNTY).area < 1e-9 * COUNTY.area


def test_each_cell_holds_at_most_the_limit_unless_it_is_the_finest():
    cells, potential = _cells()
    limit = 0.05 * potential.sum()
    assert sum(cell.potential for cell in cells) == pytest.approx(potential.sum())
    for cell in cells:
        width = shapely.bounds(cell.geometry)[2] - shapely.bounds(cell.geometry)[0]
        assert cell.potential <= limit or width <= 0.5 / 32 + 1e-12


def test_cells_are_numbered_the_same_way_every_time():
    first, _ = _cells()
    again, _ = _cells()
    assert [cell.code for cell in first] == [cell.code for cell in again]
    assert first[0].code == "99001-001" and first[0].name == "Test, XX – cell 1"


def test_cells_of_different_sizes_are_neighbours_in_the_optimisers_graph():
    lon, lat, potential = _accounts()
    cells = county_cells(county=0, code="99001", name="Test, XX", geometry=COUNTY, lon=lon, lat=lat,
                         potential=potential, limit=0.05 * potential.sum())
    cells_conform(cells)
    geometries = [cell.geometry for cell in cells]
    units = UnitSet([cell.code for cell in cells], geometries, {"potential": [cell.potential for cell in cells]})
    neighbours = units.geography.neighbours()
    sharing = [
        (i, j) for i in range(len(cells)) for j in range(i + 1, len(cells))
        if geometries[i].boundary.intersection(geometries[j].boundary).length > 1e-9
    ]
    assert any(shapely.bounds(geometries[i])[2] - shapely.bounds(geometries[i])[0]
               != shapely.bounds(geometries[j])[2] - shapely.bounds(geometries[j])[0] for i, j in sharing)
    # every pair sharing a stretch of edge, squares of unequal size included, is adjacent after projection
    assert all(j in neighbours[i] for i, j in sharing)
    assert units.geography.islands_joined == []


def test_conforming_inserts_the_corners_of_smaller_neighbours():
    big = Cell(county=0, code="a", name="a", geometry=shapely.MultiPolygon([shapely.box(0, 0, 1, 1)]), potential=0)
    small = [Cell(county=0, code=f"s{i}", name="s", geometry=shapely.MultiPolygon([shapely.box(1, y, 1.5, y + 0.5)]),
                  potential=0) for i, y in enumerate((0.0, 0.5))]
    cells_conform([big, *small])
    assert (1.0, 0.5) in {tuple(point) for point in shapely.get_coordinates(big.geometry).tolist()}
    assert big.geometry.area == 1.0
