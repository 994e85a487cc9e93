"""Points are written without GDAL, and exactly as rest_framework_gis writes them."""

import json

import pytest
from django.contrib.gis.geos import LineString, Point
from rest_framework_gis.fields import GeometryField as GisGeometryField

from accounts.api.serializers import AccountSerializer
from core.api.fields import GeometryField
from reps.api.serializers import BookAccountSerializer


@pytest.mark.parametrize("point", [
    Point(-87.6298, 41.8781, srid=4326), Point(1e-7, -33.123456789012, srid=4326), Point(179.9999999, -90, srid=4326),
    Point(1, 2, 3, srid=4326),
])
@pytest.mark.parametrize("options", [{}, {"precision": 3}])
def test_points_render_as_the_library_renders_them(point, options):
    assert json.dumps(GeometryField(**options).to_representation(point)) == json.dumps(
        GisGeometryField(**options).to_representation(point))


def test_other_geometries_and_empty_values_take_the_library_path():
    line = LineString((0, 0), (1, 1), srid=4326)
    assert GeometryField().to_representation(line) == GisGeometryField().to_representation(line)
    assert GeometryField().to_representation(None) is None
    assert GeometryField().to_representation(Point(srid=4326)) == {"type": "Point", "coordinates": []}


def test_the_account_serializers_use_it():
    assert isinstance(AccountSerializer().fields["location"], GeometryField)
    assert isinstance(BookAccountSerializer().fields["location"], GeometryField)
