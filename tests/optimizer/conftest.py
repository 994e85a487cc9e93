"""Fixtures for the optimiser tests: small grids built in code, no database, no Django settings."""

import sys
from pathlib import Path

import numpy as np
import pytest
import shapely

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from territories.optimizer import UnitSet  # noqa: E402


def square_grid(columns: int, rows: int, size: float = 0.1, origin=(-100.0, 40.0)):
    """Square cells in lon/lat with ids 'c{col}-{row}'."""
    ids, geoms = [], []
    for col in range(columns):
        for row in range(rows):
            x, y = origin[0] + col * size, origin[1] + row * size
            ids.append(f"c{col}-{row}")
            geoms.append(shapely.box(x, y, x + size, y + size))
    return ids, geoms


@pytest.fixture
def grid_units():
    ids, geoms = square_grid(16, 16)
    rng = np.random.default_rng(3)
    population = rng.integers(50, 150, len(ids)).astype(float)
    accounts = np.round(population / 10 + rng.integers(0, 4, len(ids)))
    return UnitSet(ids, geoms, {"population": population, "accounts": accounts})


def feature_collection(ids, geoms, properties):
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": shapely.geometry.mapping(geom), "properties": {"id": unit_id, **props}}
            for unit_id, geom, props in zip(ids, geoms, properties, strict=False)
        ],
    }
