"""Call-plan routing benchmark: plan time and route length against the nearest-neighbour baseline.

Each trial plans a week for one rep: 5 days x 40 stops (200 due accounts scattered within about 60 km of
home), spread by sweep and routed by nearest neighbour + 2-opt (reps.routing.plan_week). The baseline routes
the very same days by nearest neighbour alone, so the ratio isolates what 2-opt gains.

    .venv/bin/python bench/routes.py            # 30 trials
    .venv/bin/python bench/routes.py --quick    # 5 trials of 3 days x 15 stops

Prints a table, then one JSON line: plan_s (median seconds per week plan), route_km and baseline_km (totals
over all trials), ratio (route_km / baseline_km), stops_per_day, days, trials.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reps.routing import haversine_matrix, plan_week, route_length, route_nearest_neighbour  # noqa: E402


def trial(rng: np.random.Generator, *, days: int, stops_per_day: int) -> dict:
    home = (-97.74 + rng.uniform(-2, 2), 30.27 + rng.uniform(-2, 2))
    count = days * stops_per_day
    # accounts cluster in a few towns around home, as real books do
    towns = rng.normal(loc=home, scale=0.35, size=(6, 2))
    stops = towns[rng.integers(0, 6, count)] + rng.normal(scale=0.08, size=(count, 2))
    started = time.perf_counter()
    plan = plan_week(home=home, stops=stops, visit_minutes=np.full(count, 5.0), priority=rng.random(count),
                     day_minutes=24 * 60, days=days, max_stops_per_day=stops_per_day)
    seconds = time.perf_counter() - started
    distances = haversine_matrix(np.vstack([np.asarray(home).reshape(1, 2), stops]))
    baseline = sum(
        route_length(route_nearest_neighbour(distances, [stop + 1 for stop in day.stops]), distances)
        for day in plan.days
    )
    planned = sum(len(day.stops) for day in plan.days)
    return {"seconds": seconds, "km": plan.km, "baseline_km": baseline, "stops": planned}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few small trials, for a smoke test")
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--stops-per-day", type=int, default=None)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args(argv)
    days = 3 if args.quick else 5
    stops_per_day = args.stops_per_day or (15 if args.quick else 40)
    trials = args.trials or (5 if args.quick else 30)
    rng = np.random.default_rng(args.seed)

    print(f"{'trial':>5} {'stops':>6} {'plan ms':>9} {'route km':>10} {'NN km':>10} {'ratio':>7}")
    results = []
    for index in range(trials):
        result = trial(rng, days=days, stops_per_day=stops_per_day)
        results.append(result)
        print(f"{index + 1:>5} {result['stops']:>6} {1000 * result['seconds']:>9.1f} {result['km']:>10.1f} "
              f"{result['baseline_km']:>10.1f} {result['km'] / result['baseline_km']:>7.3f}")
    route_km = sum(r["km"] for r in results)
    baseline_km = sum(r["baseline_km"] for r in results)
    summary = {
        "plan_s": round(statistics.median(r["seconds"] for r in results), 4),
        "plan_s_max": round(max(r["seconds"] for r in results), 4),
        "route_km": round(route_km, 1),
        "baseline_km": round(baseline_km, 1),
        "ratio": round(route_km / baseline_km, 4),
        "stops_per_day": stops_per_day,
        "days": days,
        "trials": trials,
    }
    print(f"{'all':>5} {sum(r['stops'] for r in results):>6} {1000 * summary['plan_s']:>9.1f} "
          f"{route_km:>10.1f} {baseline_km:>10.1f} {summary['ratio']:>7.3f}   (plan ms = median)")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
