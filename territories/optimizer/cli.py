"""The standalone design command, without Django: GeoJSON in, GeoJSON and a JSON report out."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from .api import design, realign
from .errors import OptimizerInputError
from .units import UnitSet


def run_design_command(
    units_path: str,
    id_field: str,
    balance_fields: Sequence[str] | str,
    k: int | None,
    tolerance: float = 0.02,
    seed: int = 0,
    current_field: str | None = None,
    compact: bool = False,
    relocate: bool = True,
    time_limit: float = 60.0,
    out_path: str = "territories.geojson",
    report_path: str | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> dict:
    """Design (or, with `current_field`, realign) territories for a GeoJSON FeatureCollection.

    Writes every input feature to `out_path` with a `territory` property (a realignment adds its trade-off
    points as `territory_x0.5`, `territory_x0.75`, `territory_x1.5`: the tolerance times that factor), and
    the report to `report_path`. Returns the report. Raises OptimizerInputError with a one-line message for bad
    input."""
    if isinstance(balance_fields, str):
        balance_fields = [name.strip() for name in balance_fields.split(",") if name.strip()]
    if not balance_fields:
        raise OptimizerInputError("--balance needs at least one field")
    if not 0 < tolerance < 1:
        raise OptimizerInputError(f"tolerance must be between 0 and 1, got {tolerance}")
    if time_limit <= 0:
        raise OptimizerInputError("time limit must be positive")
    units = UnitSet.from_geojson(units_path, id_field, list(dict.fromkeys(balance_fields)))
    balance = dict.fromkeys(balance_fields, (1.0, tolerance))
    if current_field:
        current = {}
        for unit_id, feature in zip(units.ids, units.features, strict=False):
            properties = feature.get("properties") or {}
            if properties.get(current_field) is None:
                raise OptimizerInputError(f"feature {unit_id!r} has no current territory field {current_field!r}")
            current[unit_id] = properties[current_field]
        if k is not None and k != len(set(current.values())):
            raise OptimizerInputError(f"k = {k} but the current alignment has {len(set(current.values()))} territories")
        plan = realign(
            units, current, balance, seed=seed, time_limit=time_limit, compact=compact, relocate=relocate,
            progress=progress,
        )
    else:
        if compact:
            raise OptimizerInputError("--compact applies to realignment (--current FIELD); a design is always compact")
        if k is None:
            raise OptimizerInputError("--k is required when there is no --current field")
        plan = design(units, k, balance, seed=seed, time_limit=time_limit, progress=progress)
    # a realignment's trade-off points ride along as one property each, so any GIS can map the choice
    points = {f"territory_x{point.report['tolerance_factor']:g}": point for point in plan.tradeoff}
    for entry in plan.report.get("tradeoff", []):
        if entry["tolerance_factor"] != 1.0:
            entry["property"] = f"territory_x{entry['tolerance_factor']:g}"
    features = []
    for unit_id, feature in zip(units.ids, units.features, strict=False):
        written = dict(feature)
        written["properties"] = {
            **(feature.get("properties") or {}),
            "territory": plan.assignment[unit_id],
            **{name: point.assignment[unit_id] for name, point in points.items()},
        }
        features.append(written)
    _write(out_path, {"type": "FeatureCollection", "features": features})
    if report_path:
        _write(report_path, plan.report)
    return plan.report


def _write(path: str, data: dict) -> None:
    try:
        Path(path).write_text(json.dumps(data, default=_plain), encoding="utf-8")
    except OSError as error:
        raise OptimizerInputError(f"cannot write {path}: {error.strerror}") from None


def _plain(value):
    """NumPy scalars and other odd values in ids and properties, as JSON-able values."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m territories.optimizer.cli` — the same as the management command, without Django."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="Design balanced, contiguous, compact territories.")
    add_arguments(parser)
    options = parser.parse_args(argv)
    try:
        report = run_from_options(vars(options))
    except OptimizerInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summary_line(report))
    return 0


def add_arguments(parser) -> None:
    parser.add_argument("--units", required=True, help="GeoJSON FeatureCollection (EPSG:4326) of polygons or points")
    parser.add_argument("--id-field", required=True)
    parser.add_argument("--balance", required=True, help="FIELD[,FIELD...] to balance")
    parser.add_argument("--k", type=int, default=None)
    parser.add_argument("--tolerance", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--current", default=None, help="field with the current territory: realign instead")
    parser.add_argument(
        "--compact", action="store_true", help="realign: keep territories compact at the cost of more moves"
    )
    parser.add_argument(
        "--keep-territories", action="store_true",
        help="realign: never close a territory and reopen it where the market grew; move boundary units only",
    )
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--report", default=None)


def run_from_options(options: dict, progress=None) -> dict:
    return run_design_command(
        units_path=options["units"],
        id_field=options["id_field"],
        balance_fields=options["balance"],
        k=options["k"],
        tolerance=options["tolerance"],
        seed=options["seed"],
        current_field=options["current"],
        compact=options.get("compact", False),
        relocate=not options.get("keep_territories", False),
        time_limit=options["time_limit"],
        out_path=options["out"],
        report_path=options["report"],
        progress=progress,
    )


def summary_line(report: dict) -> str:
    return (
        f"{report['k']} territories, max deviation {100 * report['max_rel_dev']:.2f}%, "
        f"contiguous: {'yes' if report['contiguous'] else 'no'}, "
        f"Polsby-Popper mean {report['polsby_popper_mean']:.3f} (min {report['polsby_popper_min']:.3f}), "
        f"{report['runtime_s']:.1f} s"
    )


if __name__ == "__main__":
    raise SystemExit(main())
