"""Import geo units (postcodes, counties, cells) from GeoJSON or a zipped shapefile, with a per-feature report."""

import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from django.contrib.gis.gdal import CoordTransform, DataSource, SpatialReference
from django.contrib.gis.gdal.error import GDALException
from django.contrib.gis.geos import GEOSException
from django.core.exceptions import ValidationError
from django.db import transaction

from territories.models import GeoUnit, GeoUnitLayer
from territories.services.geography import geometry_clean

Progress = Callable[[float, str], None] | None
BATCH = 500


def _open(path: Path, workdir: Path):
    """A GDAL layer from a .geojson/.json file or from the first .shp inside a .zip."""
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                target = (workdir / member).resolve()
                if not str(target).startswith(str(workdir.resolve())):
                    raise ValidationError(f"The archive contains an unsafe path: {member}")
            archive.extractall(workdir)
        shapefiles = sorted(workdir.rglob("*.shp"))
        if not shapefiles:
            raise ValidationError("The zip file contains no .shp shapefile.")
        path = shapefiles[0]
    try:
        source = DataSource(str(path))
    except GDALException as exc:
        raise ValidationError(f"Could not read {path.name}: {exc}") from None
    if not len(source):
        raise ValidationError(f"{path.name} contains no layer.")
    return source, source[0]


def geo_unit_import(
    *, path: str, layer_name: str, code_field: str, name_field: str = "", kind: str = "", repair: bool = True,
    skip_bad_features: bool = True, progress: Progress = None,
) -> dict:
    """Create or update (by layer and code) one geo unit per feature; returns counts and a per-feature report.

    Features in another coordinate system are re-projected to EPSG:4326; invalid geometry is repaired (and
    reported) or refused. With skip_bad_features false, one bad feature rejects the whole file.
    """
    file_path = Path(path)
    with tempfile.TemporaryDirectory() as workdir:
        source, layer = _open(file_path, Path(workdir))
        fields = list(layer.fields)
        if code_field not in fields:
            raise ValidationError(f'No field "{code_field}" in the file; its fields are: {", ".join(fields)}.')
        if name_field and name_field not in fields:
            raise ValidationError(f'No field "{name_field}" in the file; its fields are: {", ".join(fields)}.')
        transform = None
        if layer.srs is not None and layer.srs.srid != 4326:
            try:
                transform = CoordTransform(layer.srs, SpatialReference(4326))
            except GDALException:
                transform = None
        total = len(layer)
        report, rows, seen = [], [], {}
        for index, feature in enumerate(layer, start=1):
            code = str(feature.get(code_field) or "").strip()
            entry = {"feature": index, "code": code, "status": "ok", "messages": []}
            report.append(entry)
            if not code:
                entry.update(status="error", messages=[f'Field "{code_field}" is empty.'])
                continue
            if code in seen:
                entry.update(status="error", messages=[f"Duplicate code; first seen in feature {seen[code]}."])
                continue
            seen[code] = index
            try:
                geometry = feature.geom
                if transform is not None:
                    geometry.transform(transform)
                cleaned, geometry_report = geometry_clean(geometry=geometry.geos, repair=repair)
            except (ValidationError, GDALException, GEOSException) as exc:  # GEOS: a shape GDAL read but GEOS cannot
                entry.update(status="error", messages=list(getattr(exc, "messages", [str(exc)])))
                continue
            if geometry_report["repaired"]:
                entry.update(status="repaired", messages=[issue["message"] for issue in geometry_report["issues"]])
            attributes = {name: _jsonable(feature.get(name)) for name in fields}
            rows.append((code, str(feature.get(name_field) or "") if name_field else "", cleaned, attributes))
            if progress and index % BATCH == 0:
                progress(80.0 * index / max(total, 1), f"Read {index} of {total} features")
    errors = [entry for entry in report if entry["status"] == "error"]
    repaired = sum(entry["status"] == "repaired" for entry in report)
    summary = {"features": len(report), "errors": len(errors), "repaired": repaired}
    if errors and not skip_bad_features:
        return {**summary, "committed": False, "created": 0, "updated": 0, "skipped": len(report),
                "report": report, "message": f"Import rejected: {len(errors)} features have errors; nothing was saved."}
    with transaction.atomic():
        layer_row, _ = GeoUnitLayer.objects.get_or_create(name=layer_name, defaults={"kind": kind,
                                                                                      "source": file_path.name})
        existing = set(GeoUnit.objects.filter(layer=layer_row, code__in=[row[0] for row in rows])
                       .values_list("code", flat=True))
        units = [GeoUnit(layer=layer_row, code=code, name=name, geometry=geometry, attributes=attributes)
                 for code, name, geometry, attributes in rows]
        for start in range(0, len(units), BATCH):
            GeoUnit.objects.bulk_create(
                units[start:start + BATCH], update_conflicts=True, unique_fields=["layer", "code"],
                update_fields=["name", "geometry", "attributes"],
            )
            if progress:
                progress(80 + 20.0 * (start + BATCH) / max(len(units), 1), "Saving units")
    created = sum(1 for row in rows if row[0] not in existing)
    return {
        **summary, "committed": True, "layer_id": layer_row.pk, "created": created,
        "updated": len(rows) - created, "skipped": len(errors), "report": report,
        "message": f"{created} units created, {len(rows) - created} updated, {len(errors)} skipped.",
    }


def _jsonable(value):
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
