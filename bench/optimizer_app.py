"""The optimiser as the map workspace's Optimise panel runs it, phase by phase, on the seeded demo.

    DATABASE_URL=postgis://territory:territory@127.0.0.1:5432/<your database> \\
        .venv/bin/python bench/optimizer_app.py [--repeats 3] [--time-limit 60] [--measure potential:0.05] [--k N]

The database must hold the demo (`python manage.py seed_demo`). Each repeat creates the job the API would create and
runs optimizer_run_task in this process (the worker's code path, without the queue), times the job's progress messages
(read, optimiser, boundaries, clone, write, report), then deletes the scenario it made. Prints a table of medians and,
as its last line, one line of JSON with the same figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import load_average  # noqa: E402

PHASES = ("read", "optimiser", "boundaries", "clone", "report", "total")  # clone: with the plan written in


def run_once(*, scenario_id: int, params: dict) -> dict:
    from core import services as core_services
    from core.models import Job
    from territories import tasks
    from territories.models import Scenario

    messages: list[tuple[float, float, str]] = []
    original = core_services.job_progress
    started = time.monotonic()

    def job_progress(*, job_id: int, progress: float, message: str = "") -> None:
        messages.append((time.monotonic() - started, progress, message))
        original(job_id=job_id, progress=progress, message=message)

    core_services.job_progress = job_progress
    try:
        job = Job.objects.create(kind=Job.Kind.OPTIMIZER, params=dict(params, scenario=scenario_id))
        started = time.monotonic()
        tasks.optimizer_run_task.run(job.pk, scenario_id, params)
        wall = time.monotonic() - started
    finally:
        core_services.job_progress = original
    job.refresh_from_db()
    if job.status != "succeeded":
        raise SystemExit(f"job {job.pk} {job.status}: {job.error}")
    created = Scenario.objects.get(pk=job.result["scenario"])
    report = created.optimizer_report
    figures = {f"{name}_s": report["phases_s"].get(name) for name in PHASES}
    figures.update(
        wall_s=round(wall, 3),
        max_rel_dev=report["max_rel_dev"],
        within_tolerance=report["within_tolerance"],
        contiguous=report["contiguous"],
        oversize_singletons=len(report["oversize_singletons"]),
        search_time_limit_s=report["search_time_limit_s"],
        unit_graph_reused=report.get("unit_graph_reused"),
        load_average=load_average(),
        messages=[f"{at:6.1f}s {pct:5.1f}% {text}" for at, pct, text in messages],
        notes=report.get("notes", []),
    )
    Job.objects.filter(pk=job.pk).delete()
    created.delete()
    return figures


def units_export(*, scenario, path: str) -> None:
    """The units and measures an optimiser run of `scenario` reads, as a GeoJSON FeatureCollection."""
    import shapely

    from territories.models import GeoUnit
    from territories.services.optimizer_runs import optimizer_scope

    scope = optimizer_scope(scenario=scenario)
    names = {pk: (code, name) for pk, code, name in GeoUnit.objects.values_list("pk", "code", "name")}
    features = [
        {
            "type": "Feature",
            "properties": {
                "id": unit_id,
                "code": names.get(unit_id, ("", ""))[0],
                "name": names.get(unit_id, ("", ""))[1],
                **{measure: values[i] for measure, values in scope.measures.items()},
            },
            "geometry": json.loads(shapely.to_geojson(scope.geometries[i])),
        }
        for i, unit_id in enumerate(scope.unit_ids)
    ]
    Path(path).write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    print(f"{len(features)} units written to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=60, help="the panel's Seconds: the whole run")
    parser.add_argument(
        "--measure",
        action="append",
        default=None,
        help="measure:tolerance, repeatable (default potential:0.05, as the panel offers)",
    )
    parser.add_argument("--k", type=int, default=None, help="number of territories (default: keep the leaves)")
    parser.add_argument("--mode", choices=("design", "realign"), default="design")
    parser.add_argument("--verbose", action="store_true", help="print each run's progress messages and notes")
    parser.add_argument(
        "--export-geojson",
        metavar="PATH",
        help="only write the demo's units (id, code, name, the four measures) as GeoJSON for the "
        "optimiser alone: UnitSet.from_geojson(PATH, id_field='id', measures=['potential'])",
    )
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("DJANGO_DEBUG", "false")
    import django

    django.setup()
    import territories.services.optimizer_runs  # noqa: F401 (imported, as in a worker after its first job)
    from territories.models import Scenario

    source = Scenario.objects.filter(status=Scenario.Status.ACTIVE).first()
    if source is None:
        raise SystemExit("no active scenario: seed the demo first (python manage.py seed_demo)")
    if args.export_geojson:
        units_export(scenario=source, path=args.export_geojson)
        return
    balance = {}
    for item in args.measure or ["potential:0.05"]:
        name, tolerance = item.split(":")
        balance[name] = [1.0, float(tolerance)]
    params = {
        "k": args.k,
        "mode": args.mode,
        "seed": 0,
        "time_limit": args.time_limit,
        "balance": balance,
        "parent": None,
        "name": "",
    }
    runs = []
    for repeat in range(args.repeats):
        figures = run_once(scenario_id=source.pk, params=params)
        runs.append(figures)
        print(
            f"run {repeat + 1}: total {figures['total_s']} s, wall {figures['wall_s']} s, "
            f"max dev {figures['max_rel_dev']:.3f}, load {figures['load_average']}",
            file=sys.stderr,
        )
        if args.verbose:
            print("\n".join(figures["messages"] + figures["notes"]), file=sys.stderr)
    medians = {
        key: round(statistics.median(run[key] or 0.0 for run in runs), 3)
        for key in [f"{name}_s" for name in PHASES] + ["wall_s", "max_rel_dev", "search_time_limit_s"]
    }
    print(
        f"optimiser {args.mode} on the demo ({source.name}: {len(balance)} measure(s) {balance}, time limit "
        f"{args.time_limit:g} s, {args.repeats} runs, medians)"
    )
    print(f"{'phase':<12} | {'median_s':>9} | runs")
    print(f"{'-' * 12}-+-{'-' * 9}-+-{'-' * 30}")
    for name in PHASES:
        print(f"{name:<12} | {medians[f'{name}_s']:>9.2f} | {', '.join(str(run[f'{name}_s']) for run in runs)}")
    print(
        f"largest deviation (median) {medians['max_rel_dev']:.3f}; within tolerance: "
        f"{[run['within_tolerance'] for run in runs]}; contiguous: {[run['contiguous'] for run in runs]}; "
        f"oversize singletons: {runs[-1]['oversize_singletons']}; load average after each run: "
        f"{[run['load_average'] for run in runs]}"
    )
    print(
        json.dumps(
            {
                "time_limit_s": args.time_limit,
                "repeats": args.repeats,
                "balance": balance,
                "k": args.k,
                **{
                    f"median_{key}_ratio" if key == "max_rel_dev" else f"median_{key}": value
                    for key, value in medians.items()
                },
                "unit_graph_reused": [run["unit_graph_reused"] for run in runs],
                "within_tolerance": [run["within_tolerance"] for run in runs],
                "contiguous": [run["contiguous"] for run in runs],
                "oversize_singletons": runs[-1]["oversize_singletons"],
                "load_average": [run["load_average"] for run in runs],
            }
        )
    )


if __name__ == "__main__":
    main()
