"""Basic units (geo units or accounts) with their geometry in EPSG:4326 and their measures."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from .errors import OptimizerInputError


class UnitSet:
    """Units to partition: ids, shapely geometries (lon/lat, EPSG:4326) and measure arrays.

    Geometries are either all polygonal or all points (accounts without geo units). Invalid polygons
    are repaired on construction and counted in `repairs`.
    """

    def __init__(
        self,
        ids: Sequence[Any],
        geometries: Sequence[Any],
        measures: Mapping[str, Sequence[float]] | None = None,
        features: list[dict] | None = None,
    ):
        self.ids = list(ids)
        n = len(self.ids)
        if n == 0:
            raise OptimizerInputError("no units given")
        if len(set(self.ids)) != n:
            seen: set = set()
            duplicate = next(i for i in self.ids if i in seen or seen.add(i))
            raise OptimizerInputError(f"unit id {duplicate!r} is not unique")
        geoms = np.asarray(list(geometries), dtype=object)
        if len(geoms) != n:
            raise OptimizerInputError(f"{len(geoms)} geometries for {n} units")
        self.measures: dict[str, np.ndarray] = {}
        for name, values in (measures or {}).items():
            try:
                array = np.asarray(values, dtype=float)
            except (TypeError, ValueError):
                raise OptimizerInputError(f"measure {name!r} has non-numeric values") from None
            if array.shape != (n,):
                raise OptimizerInputError(f"measure {name!r} has {array.size} values for {n} units")
            if not np.all(np.isfinite(array)):
                raise OptimizerInputError(f"measure {name!r} has missing or non-finite values")
            if np.any(array < 0):
                raise OptimizerInputError(f"measure {name!r} has negative values")
            self.measures[name] = array
        self.features = features
        self.geometries, self.repairs, self.kind = _check_geometries(geoms, self.ids)
        self._geography = None

    def __len__(self) -> int:
        return len(self.ids)

    def with_measures(self, measures: Mapping[str, Sequence[float]]) -> UnitSet:
        """A copy with other measure values but the same (already prepared) geography."""
        other = object.__new__(UnitSet)
        other.__dict__.update(self.__dict__)
        other.measures = dict(self.measures)
        for name, values in measures.items():
            other.measures[name] = np.asarray(values, dtype=float)
        return other

    @property
    def geography(self):
        """Projected geometry and the unit graph, built once and shared by every run."""
        if self._geography is None:
            from .graph import build_geography

            self._geography = build_geography(self.geometries, self.kind, self.ids)
        return self._geography

    @classmethod
    def from_geojson(cls, path_or_dict, id_field: str, measures: Sequence[str] = ()) -> UnitSet:
        """Read a GeoJSON FeatureCollection (EPSG:4326) from a path, a JSON string or a dict."""
        data = _load_geojson(path_or_dict)
        features = data["features"]
        if not features:
            raise OptimizerInputError("the FeatureCollection has no features")
        ids, geoms = [], []
        values: dict[str, list[float]] = {name: [] for name in measures}
        for position, feature in enumerate(features):
            if not isinstance(feature, dict) or feature.get("type") != "Feature":
                raise OptimizerInputError(f"item {position} of features is not a GeoJSON Feature")
            properties = feature.get("properties") or {}
            if id_field in properties:
                unit_id = properties[id_field]
            elif id_field == "id" and "id" in feature:
                unit_id = feature["id"]
            else:
                raise OptimizerInputError(f"feature {position} has no id field {id_field!r}")
            if unit_id is None:
                raise OptimizerInputError(f"feature {position} has an empty id field {id_field!r}")
            for name in measures:
                if name not in properties:
                    raise OptimizerInputError(f"feature {unit_id!r} has no field {name!r}")
                values[name].append(_number(properties[name], name, unit_id))
            geometry = feature.get("geometry")
            if not geometry:
                raise OptimizerInputError(f"feature {unit_id!r} has no geometry")
            try:
                geoms.append(shapely.from_geojson(json.dumps(geometry)))
            except Exception:  # shapely raises GEOSException with a multi-line message
                raise OptimizerInputError(f"feature {unit_id!r} has geometry that cannot be read") from None
            ids.append(unit_id)
        return cls(ids, geoms, values, features=features)


def _load_geojson(path_or_dict) -> dict:
    if isinstance(path_or_dict, Mapping):
        data = path_or_dict
    else:
        text = str(path_or_dict)
        try:
            if text.lstrip().startswith("{"):
                data = json.loads(text)
            else:
                data = json.loads(Path(text).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise OptimizerInputError(f"no such file: {text}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise OptimizerInputError(f"not valid JSON: {str(error).splitlines()[0]}") from None
    if not isinstance(data, Mapping) or data.get("type") != "FeatureCollection":
        raise OptimizerInputError("input is not a GeoJSON FeatureCollection")
    if not isinstance(data.get("features"), list):
        raise OptimizerInputError("the FeatureCollection has no features list")
    return dict(data)


def _number(value, name: str, unit_id) -> float:
    if isinstance(value, bool) or value is None:
        raise OptimizerInputError(f"field {name!r} of unit {unit_id!r} is not a number: {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise OptimizerInputError(f"field {name!r} of unit {unit_id!r} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise OptimizerInputError(f"field {name!r} of unit {unit_id!r} is not a finite number")
    if number < 0:
        raise OptimizerInputError(f"field {name!r} of unit {unit_id!r} is negative: {value!r}")
    return number


def _check_geometries(geoms: np.ndarray, ids: list) -> tuple[np.ndarray, list[dict], str]:
    """Repair invalid polygons (make_valid, keep the polygonal part); decide polygons or points."""
    type_ids = shapely.get_type_id(geoms)
    if np.any(type_ids < 0):
        position = int(np.flatnonzero(type_ids < 0)[0])
        raise OptimizerInputError(f"unit {ids[position]!r} has no geometry")
    polygonal = np.isin(type_ids, (3, 6))
    points = type_ids == 0
    if polygonal.all():
        kind = "polygon"
    elif points.all():
        kind = "point"
    else:
        position = int(np.flatnonzero(~(polygonal | points) | (polygonal != polygonal[0]))[0])
        raise OptimizerInputError(
            f"unit {ids[position]!r} has a {shapely.get_type_id(geoms[position])} geometry; "
            "units must be all polygons or all points"
        )
    if np.any(shapely.is_empty(geoms)):
        position = int(np.flatnonzero(shapely.is_empty(geoms))[0])
        raise OptimizerInputError(f"unit {ids[position]!r} has an empty geometry")
    coords = shapely.get_coordinates(geoms)
    if not np.all(np.isfinite(coords)):
        raise OptimizerInputError("some coordinates are not finite numbers")
    if np.any(np.abs(coords[:, 0]) > 180.0) or np.any(np.abs(coords[:, 1]) > 90.0):
        raise OptimizerInputError("coordinates outside longitude/latitude range: input must be EPSG:4326")
    repairs: list[dict] = []
    if kind == "polygon":
        geoms = geoms.copy()
        for position in np.flatnonzero(~shapely.is_valid(geoms)):
            reason = shapely.is_valid_reason(geoms[position])
            fixed = _polygonal_part(shapely.make_valid(geoms[position]))
            if fixed is None or fixed.is_empty or fixed.area <= 0:
                raise OptimizerInputError(f"unit {ids[position]!r} has geometry that cannot be repaired ({reason})")
            geoms[position] = fixed
            repairs.append({"unit": ids[position], "problem": reason})
    return geoms, repairs, kind


def _polygonal_part(geom):
    if geom is None:
        return None
    if shapely.get_type_id(geom) in (3, 6):
        return geom
    parts = [part for part in shapely.get_parts(geom) if shapely.get_type_id(part) in (3, 6)]
    if not parts:
        return None
    return shapely.union_all(parts)
