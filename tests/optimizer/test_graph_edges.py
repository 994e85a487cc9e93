"""Unit adjacency where one side of a shared edge has more vertices than the other."""

import shapely

from territories.optimizer import UnitSet


def test_edge_split_on_one_side_only_is_still_shared():
    # b's top edge runs along the 40th parallel in two segments, a's bottom edge in one; once projected the
    # parallel is curved, so the two no longer coincide
    a = shapely.box(-101.0, 40.0, -99.0, 41.0)
    b = shapely.Polygon([(-101.0, 39.0), (-99.0, 39.0), (-99.0, 40.0), (-100.0, 40.0), (-101.0, 40.0)])
    c = shapely.box(-99.0, 39.0, -97.0, 40.0)  # beside b, touching a at a corner only
    geo = UnitSet(["a", "b", "c"], [a, b, c], {"potential": [1.0, 1.0, 1.0]}).geography
    assert geo.neighbours() == [[1], [0, 2], [1]]
    assert geo.islands_joined == []
    row = slice(geo.indptr[0], geo.indptr[1])
    shared = dict(zip(geo.indices[row].tolist(), geo.shared[row].tolist(), strict=True))
    assert 160_000 < shared[1] < 180_000  # metres: two degrees of longitude at 40°N, ~170 km
