"""What the manager reads about a plan: which territories cannot be balanced and why, and a one-line headline."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from territories.models import GeoUnit

from .scope import OptimizerScope

if TYPE_CHECKING:
    from .plan import PlanLayout


def _percent(value: float) -> str:
    return f"{value:.0%}" if abs(value) >= 0.1 else f"{value:.1%}"


def balance_notes(*, report: dict, scope: OptimizerScope, layout: PlanLayout) -> list[str]:
    """Plain sentences for the manager: which territories cannot be balanced, and why."""
    tolerances = {name: tolerance for name, (weight, tolerance) in report["balance"].items() if weight > 0}
    means = {name: report["measures"][name]["mean"] for name in tolerances if name in report["measures"]}
    index = {unit_id: i for i, unit_id in enumerate(scope.unit_ids)}
    values = {name: np.asarray(scope.measures[name]) for name in means}
    members: dict = {}
    for unit_id, label in layout.unit_label.items():
        members.setdefault(str(label), []).append(index[unit_id])
    territories = {str(item["territory"]): item for item in report.get("territories", [])}
    largest = {}  # label → (share of the mean, unit index, measure) of its biggest unit
    for label, rows in members.items():
        shares = [
            (float(values[name][rows].max() / mean), int(np.asarray(rows)[values[name][rows].argmax()]), name)
            for name, mean in means.items()
            if mean > 0
        ]
        largest[label] = max(shares) if shares else (0.0, rows[0], "")
    oversize = [str(item["territory"]) for item in report.get("oversize_singletons", [])]
    outside = sorted(
        (
            (max(abs(item["deviation"].get(name, 0.0)) / tolerance for name, tolerance in tolerances.items()), label)
            for label, item in territories.items()
            if label not in oversize
            and not item.get("locked")
            and any(abs(item["deviation"].get(name, 0.0)) > tolerance + 1e-9 for name, tolerance in tolerances.items())
        ),
        reverse=True,
    )
    mentioned = [largest[label][1] for label in oversize] + [largest[label][1] for _, label in outside[:5]]
    names = {
        pk: f"{unit_name} ({code})" if unit_name else code
        for pk, code, unit_name in GeoUnit.objects.filter(pk__in=[scope.unit_ids[i] for i in mentioned]).values_list(
            "pk", "code", "name"
        )
    }

    def unit(i: int) -> str:
        return names.get(scope.unit_ids[i], f"unit {scope.unit_ids[i]}")

    notes = []
    for label in oversize:
        share, i, name = largest[label]
        notes.append(
            f"{territories[label]['code']} cannot be balanced: {unit(i)} alone holds {share:.1f} × a "
            f"territory's mean {name}, so it is a territory of its own; the others are balanced without it."
        )
    report["outside_tolerance"] = len(outside)
    if outside:
        held = sum(1 for label, item in territories.items() if label not in oversize and not item.get("locked"))
        notes.append(
            f"{len(outside)} of {held} territories are outside the tolerance "
            f"({', '.join(f'{name} ±{_percent(t)}' for name, t in tolerances.items())})."
        )
        for _, label in outside[:5]:
            item = territories[label]
            name = max(tolerances, key=lambda m: abs(item["deviation"].get(m, 0.0)) / tolerances[m])
            share, i, biggest_measure = largest[label]
            notes.append(
                f"{item['code']} is {item['deviation'][name]:+.0%} off the mean {name}; its largest unit, "
                f"{unit(i)}, alone holds {_percent(share)} of a territory's mean {biggest_measure}."
            )
        for name, mean in means.items():
            tolerance = tolerances[name]
            coarse = int((values[name] > 0.5 * mean).sum()) if mean > 0 else 0
            if coarse:
                notes.append(
                    f"{coarse} units each hold more than half a territory's mean {name}: units this coarse "
                    f"rarely add up to within ±{_percent(tolerance)}. Allow a wider tolerance or fewer "
                    f"territories, or split the biggest units."
                )
    if scope.named_accounts:
        notes.append(
            f"{scope.named_accounts} accounts of named-account territories (potential "
            f"{scope.named_potential:,.0f}) move with their units but are not counted in the balance."
        )
    return notes


def run_summary(report: dict) -> dict:
    keys = (
        "k",
        "units",
        "max_rel_dev",
        "within_tolerance",
        "contiguous",
        "polsby_popper_mean",
        "polsby_popper_min",
        "runtime_s",
        "mode",
    )
    summary = {key: report.get(key) for key in keys}
    summary["max_rel_dev_per_measure"] = {name: item.get("max_rel_dev") for name, item in report["measures"].items()}
    summary["tolerance"] = {name: tolerance for name, (_, tolerance) in report["balance"].items()}
    summary["oversize_singletons"] = len(report.get("oversize_singletons") or [])
    summary["outside_tolerance"] = report.get("outside_tolerance", 0)
    summary["notes"] = report.get("notes", [])
    if report.get("disruption"):
        summary["units_moved"] = report["disruption"].get("units_moved")
    summary["headline"] = _headline(summary)
    return summary


def _headline(summary: dict) -> str:
    """One line for the job message: the largest deviation against the tolerance, and what could not be balanced."""
    tolerance = ", ".join(f"{name} ±{_percent(value)}" for name, value in summary["tolerance"].items())
    parts = [
        f"largest deviation {summary['max_rel_dev']:.1%} (tolerance {tolerance})",
        "contiguous" if summary["contiguous"] else "NOT contiguous",
    ]
    if summary["oversize_singletons"]:
        parts.append(f"{summary['oversize_singletons']} territories cannot be balanced (one oversize unit each)")
    if summary["outside_tolerance"]:
        parts.append(f"{summary['outside_tolerance']} outside the tolerance (the report says why)")
    elif summary["within_tolerance"]:
        parts.append(
            "every other territory within the tolerance"
            if summary["oversize_singletons"]
            else "every territory within the tolerance"
        )
    return "; ".join(parts) + "."
