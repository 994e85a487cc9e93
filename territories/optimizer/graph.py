"""Projected geometry and the unit adjacency graph.

Polygons are adjacent when they share a boundary of positive length (rook contiguity; a corner-only
touch is not adjacency). Points (accounts with no geo units) get Voronoi cells, so their adjacency is
the Delaunay graph and compactness can be measured the same way. A graph in several pieces is made
connected by linking each smaller piece to the nearest unit outside it; the links are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyproj
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .errors import OptimizerInputError


@dataclass
class Geography:
    """Everything geometric the optimiser needs, in a local equal-area projection (metres)."""

    crs: str
    kind: str
    cells: np.ndarray  # projected polygons (Voronoi cells for point units)
    area: np.ndarray  # m²
    perimeter: np.ndarray  # m
    x: np.ndarray  # centroid, m
    y: np.ndarray
    indptr: np.ndarray  # CSR adjacency
    indices: np.ndarray
    shared: np.ndarray  # shared boundary length per CSR entry, m (0 for island links)
    islands_joined: list[dict] = field(default_factory=list)

    @property
    def n_edges(self) -> int:
        return int(len(self.indices) // 2)

    def neighbours(self) -> list[list[int]]:
        return [self.indices[self.indptr[i] : self.indptr[i + 1]].tolist() for i in range(len(self.area))]


def equal_area_crs(geoms: np.ndarray) -> str:
    """Lambert azimuthal equal-area centred on the data: equal area, little shape distortion."""
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    lon0 = round((xmin + xmax) / 2.0, 4)
    lat0 = round((ymin + ymax) / 2.0, 4)
    return f"+proj=laea +lat_0={lat0} +lon_0={lon0} +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"


def project(geoms: np.ndarray, crs: str) -> np.ndarray:
    transformer = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)

    def forward(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    projected = shapely.transform(geoms, forward)
    invalid = ~shapely.is_valid(projected)
    if invalid.any():  # projection can turn a barely valid ring into an invalid one
        projected[invalid] = shapely.make_valid(projected[invalid])
    return projected


def build_geography(geoms: np.ndarray, kind: str, ids: list) -> Geography:
    crs = equal_area_crs(geoms)
    if kind == "polygon":
        # Neighbours whose shared vertices differ in the last bits (computed coordinates, rounding in
        # exports) would otherwise share no boundary: snap to a 1e-9 degree grid (0.1 mm) first.
        geoms = shapely.set_precision(geoms, 1e-9)
    projected = project(geoms, crs)
    cells = _voronoi_cells(projected) if kind == "point" else projected
    unprojected = geoms if kind == "polygon" else None
    area = shapely.area(cells)
    if np.any(area <= 0):
        position = int(np.flatnonzero(area <= 0)[0])
        raise OptimizerInputError(f"unit {ids[position]!r} has a polygon of zero area")
    perimeter = shapely.length(cells)
    centroids = shapely.centroid(cells)
    x, y = shapely.get_x(centroids), shapely.get_y(centroids)
    left, right, length = _rook_pairs(cells, unprojected, crs)
    n = len(cells)
    left, right, length, islands = _join_islands(n, left, right, length, cells, ids)
    matrix = sparse.coo_matrix(
        (np.concatenate([length, length]) + 1e-12, (np.concatenate([left, right]), np.concatenate([right, left]))),
        shape=(n, n),
    ).tocsr()
    matrix.sort_indices()
    shared = matrix.data - 1e-12
    shared[shared < 0] = 0.0
    return Geography(
        crs=crs,
        kind=kind,
        cells=cells,
        area=area,
        perimeter=perimeter,
        x=x,
        y=y,
        indptr=matrix.indptr.astype(np.int64),
        indices=matrix.indices.astype(np.int64),
        shared=shared,
        islands_joined=islands,
    )


def _rook_pairs(
    cells: np.ndarray, unprojected: np.ndarray | None = None, crs: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of cells whose boundaries share a stretch of positive length.

    Where one side has a vertex in the middle of the other's straight edge (a postcode cut along a county line, a
    grid cell clipped to a county), the edge is straight in degrees but not once projected, and the projected
    boundaries meet in points only; such pairs are measured again in degrees (`unprojected`), within 1e-8° (~1 mm),
    and kept when they share more than 1e-6° (a corner touch shares ~2e-8°)."""
    tree = shapely.STRtree(cells)
    left, right = tree.query(cells, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if len(left) == 0:
        return left, right, np.zeros(0)
    boundaries = shapely.boundary(cells)
    length = shapely.length(shapely.intersection(boundaries[left], boundaries[right]))
    # Sloppy data sets overlap slightly instead of sharing an edge: count half the overlap's outline.
    no_edge = length <= 0
    if no_edge.any():
        overlap = shapely.area(shapely.intersection(cells[left[no_edge]], cells[right[no_edge]]))
        sloppy = np.flatnonzero(no_edge)[overlap > 0]
        if len(sloppy):
            outline = shapely.length(shapely.intersection(cells[left[sloppy]], cells[right[sloppy]]))
            length[sloppy] = outline / 2.0
    still = np.flatnonzero(length <= 0)
    if unprojected is not None and crs is not None and len(still):
        boundaries = shapely.boundary(unprojected)
        near = shapely.intersection(
            boundaries[left[still]], shapely.buffer(boundaries[right[still]], 1e-8, quad_segs=1)
        )
        found = shapely.length(near) > 1e-6
        if found.any():
            length[still[found]] = shapely.length(project(near[found], crs))
    scale = np.median(shapely.length(cells))
    adjacent = length > 1e-9 * scale
    return left[adjacent], right[adjacent], length[adjacent]


def _join_islands(n, left, right, length, cells, ids):
    """Link each piece of the graph to the nearest unit outside it, smallest piece first."""
    islands: list[dict] = []
    left, right, length = list(left), list(right), list(length)
    while True:
        graph = sparse.coo_matrix((np.ones(len(left)), (left, right)), shape=(n, n))
        count, labels = connected_components(graph, directed=False)
        if count <= 1:
            break
        sizes = np.bincount(labels, minlength=count)
        piece = int(np.argmin(sizes))
        inside = np.flatnonzero(labels == piece)
        outside = np.flatnonzero(labels != piece)
        tree = shapely.STRtree(cells[outside])
        (source, target), distance = tree.query_nearest(cells[inside], return_distance=True, all_matches=False)
        best = int(np.argmin(distance))
        a, b = int(inside[source[best]]), int(outside[target[best]])
        left.append(min(a, b))
        right.append(max(a, b))
        length.append(0.0)
        islands.append(
            {
                "piece_units": [ids[i] for i in inside[:20]],
                "piece_size": int(len(inside)),
                "unit": ids[a],
                "joined_to": ids[b],
                "distance_km": round(float(distance[best]) / 1000.0, 3),
            }
        )
    return np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64), np.asarray(length, dtype=float), islands


def _voronoi_cells(points: np.ndarray) -> np.ndarray:
    """Voronoi cell of each point, clipped to a buffer around the points' hull."""
    coords = shapely.get_coordinates(points).copy()
    n = len(coords)
    if n == 1:
        return np.asarray([shapely.buffer(points[0], 1000.0)], dtype=object)
    # Identical locations would share one cell: spread duplicates on a tiny deterministic spiral.
    _, first, counts = np.unique(coords.round(3), axis=0, return_index=True, return_counts=True)
    if np.any(counts > 1):
        key = [tuple(c) for c in coords.round(3)]
        seen: dict = {}
        for i in range(n):
            rank = seen.get(key[i], 0)
            seen[key[i]] = rank + 1
            if rank:
                angle = rank * 2.399963
                coords[i, 0] += 0.5 * rank * np.cos(angle)
                coords[i, 1] += 0.5 * rank * np.sin(angle)
    multipoint = shapely.multipoints(coords)
    spacing = np.sqrt(shapely.area(shapely.convex_hull(multipoint)) / n) if n > 2 else 0.0
    spacing = max(spacing, 1000.0, float(np.ptp(coords, axis=0).max()) / max(n, 1))
    envelope = shapely.buffer(shapely.convex_hull(multipoint), spacing)
    cells = shapely.get_parts(shapely.voronoi_polygons(multipoint, extend_to=envelope, ordered=True))
    cells = shapely.intersection(cells, envelope)
    return np.asarray(cells, dtype=object)
