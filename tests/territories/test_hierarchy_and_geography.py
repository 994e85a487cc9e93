"""The hierarchy (depth, cycles), rules validation, geometry repair, unit-built boundaries, overlaps and gaps."""

import json
import zipfile

import pytest
from django.contrib.gis.geos import GEOSGeometry
from django.core.exceptions import ValidationError

from territories.models import GeoUnit, Territory
from territories.services import (
    geo_unit_import,
    geometry_clean,
    rule_create,
    territory_boundary_set,
    territory_create,
    territory_move,
    territory_overlaps_and_gaps,
    territory_type_create,
    territory_units_set,
)
from tests.factories import GeoUnitFactory, ScenarioFactory, TerritoryFactory, square

pytestmark = pytest.mark.django_db


def test_depth_follows_moves_and_cycles_are_refused():
    scenario = ScenarioFactory()
    region = territory_create(scenario=scenario, name="Region", code="R")
    district = territory_create(scenario=scenario, name="District", code="D", parent=region)
    leaf = territory_create(scenario=scenario, name="Leaf", code="L", parent=district)
    other = territory_create(scenario=scenario, name="Other", code="O")
    assert (region.depth, district.depth, leaf.depth) == (0, 1, 2)
    territory_move(territory=district, parent=other)
    territory_move(territory=other, parent=territory_create(scenario=scenario, name="Top", code="T"))
    assert dict(Territory.objects.values_list("code", "depth")) == {"T": 0, "R": 0, "O": 1, "D": 2, "L": 3}
    with pytest.raises(ValidationError, match="would make a cycle"):
        territory_move(territory=other, parent=Territory.objects.get(code="L"))
    with pytest.raises(ValidationError, match="already used"):
        territory_create(scenario=scenario, name="Again", code="R")


def test_territory_type_priorities_are_unique():
    territory_type_create(name="Geo", kind="geography", priority=10)
    with pytest.raises(ValidationError, match="already taken"):
        territory_type_create(name="Named", kind="named", priority=10)


def test_rule_criteria_are_validated():
    leaf = TerritoryFactory()
    with pytest.raises(ValidationError, match="unknown field 'colour'"):
        rule_create(territory=leaf, name="r", criteria=[{"field": "colour", "op": "equals", "value": "red"}])
    with pytest.raises(ValidationError, match="'range' needs"):
        rule_create(territory=leaf, name="r", criteria=[{"field": "potential", "op": "range", "value": [1]}])
    rule = rule_create(territory=leaf, name="ok", criteria=[{"field": "tier", "op": "in", "value": ["A", "B"]}])
    assert rule.pk


def test_bowtie_is_repaired_with_a_report_and_clockwise_rings_reoriented():
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    cleaned, report = geometry_clean(geometry=bowtie)
    assert cleaned.valid and cleaned.geom_type == "MultiPolygon" and len(cleaned) == 2
    assert [issue["code"] for issue in report["issues"]] == ["invalid"]
    assert "Self-intersection" in report["issues"][0]["message"]
    clockwise = {"type": "Polygon", "coordinates": [[[0, 0], [0, 1], [1, 1], [1, 0]]]}  # also unclosed
    cleaned, report = geometry_clean(geometry=clockwise)
    assert [issue["code"] for issue in report["issues"]] == ["ring_closed", "reoriented"]
    assert cleaned.area == pytest.approx(1.0)
    with pytest.raises(ValidationError, match="Invalid geometry: Self-intersection"):
        geometry_clean(geometry=bowtie, repair=False)


def test_out_of_range_coordinates_are_refused_with_a_clear_message():
    projected = {"type": "Polygon", "coordinates": [[[500000, 4000000], [500100, 4000000], [500100, 4000100],
                                                     [500000, 4000000]]]}
    with pytest.raises(ValidationError, match=r"Coordinate \(500000, 4e\+06\) is out of range.*re-project"):
        geometry_clean(geometry=projected)


def test_drawn_boundary_is_refused_on_a_unit_built_territory():
    leaf = TerritoryFactory(built_from_units=True)
    with pytest.raises(ValidationError, match="union of its geo units"):
        territory_boundary_set(territory=leaf, boundary=square(0, 0))


def test_boundary_is_the_union_of_units_and_units_move_between_territories():
    scenario = ScenarioFactory()
    west, east = TerritoryFactory(scenario=scenario, boundary=None), TerritoryFactory(scenario=scenario, boundary=None)
    units = [GeoUnitFactory(geometry=square(x, 0)) for x in range(3)]
    territory_units_set(territory=west, unit_ids=[u.pk for u in units])
    west.refresh_from_db()
    assert west.built_from_units and west.boundary.area == pytest.approx(3.0)
    assert west.boundary.extent == (0.0, 0.0, 3.0, 1.0)
    report = territory_units_set(territory=east, unit_ids=[units[2].pk], mode="add")
    west.refresh_from_db()
    east.refresh_from_db()
    assert report["taken_from_other_territories"] == 1
    assert west.boundary.area == pytest.approx(2.0) and east.boundary.area == pytest.approx(1.0)
    territory_units_set(territory=east, unit_ids=[units[2].pk], mode="remove")
    east.refresh_from_db()
    assert east.boundary is None


def test_sibling_overlaps_and_gaps_are_listed():
    scenario = ScenarioFactory()
    parent = TerritoryFactory(scenario=scenario, code="P", boundary=square(0, 0, 3))
    a = TerritoryFactory(scenario=scenario, parent=parent, code="A",
                         boundary=GEOSGeometry("SRID=4326;MULTIPOLYGON(((0 0,2 0,2 3,0 3,0 0)))"))
    TerritoryFactory(scenario=scenario, parent=parent, code="B",
                     boundary=GEOSGeometry("SRID=4326;MULTIPOLYGON(((1 0,2.5 0,2.5 3,1 3,1 0)))"))
    result = territory_overlaps_and_gaps(scenario=scenario)
    assert [(o["territory_a"], o["territory_b"]) for o in result["overlaps"]] == [("A", "B")]
    assert result["overlaps"][0]["overlap_km2"] == pytest.approx(37000, rel=0.02)  # 1 x 3 degrees near the equator
    assert [g["parent"] for g in result["gaps"]] == ["P"]
    gap = GEOSGeometry(json.dumps(result["gaps"][0]["geometry"]))
    assert gap.area == pytest.approx(1.5)
    assert a.pk


def _feature_collection(features):
    return {"type": "FeatureCollection", "features": features}


def test_geo_unit_import_from_geojson_reports_each_feature(tmp_path):
    path = tmp_path / "zips.geojson"
    path.write_text(json.dumps(_feature_collection([
        {"type": "Feature", "properties": {"zip": "75001", "name": "Addison"},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}},
        {"type": "Feature", "properties": {"zip": "75002", "name": "Bowtie"},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}},
        {"type": "Feature", "properties": {"zip": "", "name": "No code"},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}},
        {"type": "Feature", "properties": {"zip": "75004", "name": "Far"},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 95], [0, 0]]]}},
    ])))
    result = geo_unit_import(path=str(path), layer_name="ZIPs", code_field="zip", name_field="name")
    assert (result["created"], result["updated"], result["skipped"], result["repaired"]) == (2, 0, 2, 1)
    assert [(r["feature"], r["status"]) for r in result["report"]] == [
        (1, "ok"), (2, "repaired"), (3, "error"), (4, "error")]
    assert "out of range" in result["report"][3]["messages"][0]
    assert GeoUnit.objects.get(code="75001").attributes == {"zip": "75001", "name": "Addison"}
    again = geo_unit_import(path=str(path), layer_name="ZIPs", code_field="zip", skip_bad_features=False)
    assert again["committed"] is False and "nothing was saved" in again["message"]


def test_geo_unit_import_from_zipped_shapefile(tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    frame = gpd.GeoDataFrame({"code": ["C1", "C2"], "label": ["One", "Two"]},
                             geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs="EPSG:4326")
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    frame.to_file(shp_dir / "cells.shp")
    archive = tmp_path / "cells.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for file in shp_dir.iterdir():
            handle.write(file, file.name)
    result = geo_unit_import(path=str(archive), layer_name="Cells", code_field="code", name_field="label")
    assert (result["created"], result["skipped"]) == (2, 0)
    assert sorted(GeoUnit.objects.filter(layer__name="Cells").values_list("name", flat=True)) == ["One", "Two"]
