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
    """Plain sentences for the manager: which territories cannot be balanced, and why.

    In order: units too big for any territory (a territory of their own), territories the optimiser proves cannot
    reach the band whatever the rest of the plan does (`balance_limited_by_geography`, when it reports it), the
    other territories outside the tolerance with their biggest unit, how coarse the units are, and what was not
    counted. Also sets report["outside_tolerance"] and report["limited_by_geography"] (counts).
    """
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

    def excess(item: dict) -> float:
        return max(
            (abs(item["deviation"].get(name, 0.0)) / tolerance for name, tolerance in tolerances.items()), default=0.0
        )

    oversize = [str(item["territory"]) for item in report.get("oversize_singletons", [])]
    held = [label for label, item in territories.items() if label not in oversize and not item.get("locked")]
    outside = sorted(
        (label for label in held if excess(territories[label]) > 1 + 1e-9),
        key=lambda label: -excess(territories[label]),
    )
    limited = [label for label in outside if territories[label].get("balance_limited_by_geography")]
    unexplained = [label for label in outside if label not in limited]
    report["outside_tolerance"] = len(outside)
    report["limited_by_geography"] = len(limited)
    mentioned = [scope.unit_ids[largest[label][1]] for label in oversize + unexplained[:5]]
    for label in limited:
        mentioned.extend(territories[label]["balance_limited_by_geography"].get("units", []))
    names = {
        pk: f"{unit_name} ({code})" if unit_name else code
        for pk, code, unit_name in GeoUnit.objects.filter(pk__in=mentioned).values_list("pk", "code", "name")
    }

    def unit(unit_id) -> str:
        return names.get(unit_id, f"unit {unit_id}")

    notes = []
    fallback = report.get("realign_fallback")
    if fallback and fallback.get("kept") == "redesign":
        notes.append(
            "Moving boundary units could not bring the current alignment within the tolerance (it was "
            f"{fallback['current_max_excess']:.0f} tolerances off; the moves stalled at "
            f"{fallback['moves_max_excess']:.1f}), so the territories were redesigned: each keeps the name of the "
            "current territory it overlaps most, and units stay where they are wherever balance allows."
        )
    elif fallback:
        notes.append(
            "Moving boundary units could not bring the current alignment within the tolerance, and a redesign came no "
            f"closer ({fallback['redesign_max_excess']:.1f} tolerances off against {fallback['moves_max_excess']:.1f})."
        )
    relocation = report.get("relocation")
    if relocation:
        notes.append(
            f"{relocation['closed']} moved to where the market grew: its units went to its neighbouring territories, "
            f"and it took over half of {relocation['reopened_in']}. That moves less than passing the growth on border "
            f"by border ({relocation['after_transfers']['move_weight_moved_share']:.1%} of the revenue after the "
            f"first transfers instead of {relocation['unchanged_after_transfers']['move_weight_moved_share']:.1%}), "
            f"but every account of {relocation['closed']} changes territory; untick “Move a territory” to keep each "
            "territory where it is."
        )
    if report.get("start_pieces_units_moved"):
        notes.append(
            f"{report['start_pieces_units_moved']} units of current territories in several pieces (islands, exclaves) "
            "joined the neighbouring territory they share most boundary with, so every territory is in one piece."
        )
    for label in oversize:
        share, i, name = largest[label]
        notes.append(
            f"{territories[label]['code']} cannot be balanced: {unit(scope.unit_ids[i])} alone holds {share:.1f} × "
            f"a territory's mean {name}, so it is a territory of its own; the others are balanced without it."
        )
    if outside:
        notes.append(
            f"{len(outside)} of {len(held)} territories are outside the tolerance "
            f"({', '.join(f'{name} ±{_percent(t)}' for name, t in tolerances.items())})"
            + (f"; {len(limited)} of them cannot be inside it with these units (below)." if limited else ".")
        )
    for label in limited:
        item, limit = territories[label], territories[label]["balance_limited_by_geography"]
        bounds = ", ".join(f"{_percent(value)} on {name}" for name, value in limit["best_possible_deviation"].items())
        holders = ", ".join(unit(unit_id) for unit_id in limit.get("units", [])[:3])
        notes.append(
            f"{item['code']} cannot be balanced: no connected group of units holding {holders} comes closer to the "
            f"mean than {bounds} (it is {item['deviation'][_worst(item, tolerances)]:+.0%})."
        )
    for label in unexplained[:5]:
        item = territories[label]
        share, i, biggest_measure = largest[label]
        name = _worst(item, tolerances)
        notes.append(
            f"{item['code']} is {item['deviation'][name]:+.0%} off the mean {name}; its largest unit, "
            f"{unit(scope.unit_ids[i])}, alone holds {_percent(share)} of a territory's mean {biggest_measure}."
        )
    if outside:
        for name, mean in means.items():
            coarse = int((values[name] > 0.5 * mean).sum()) if mean > 0 else 0
            if coarse:
                notes.append(
                    f"{coarse} units each hold more than half a territory's mean {name}: units this coarse rarely "
                    f"add up to within ±{_percent(tolerances[name])}. Allow a wider tolerance or fewer territories, "
                    "or split the biggest units."
                )
    if scope.named_accounts:
        notes.append(
            f"Accounts of named-account territories ({scope.named_accounts}, potential "
            f"{scope.named_potential:,.0f}) move with their units but are not counted in the balance."
        )
    return notes


def _worst(item: dict, tolerances: dict) -> str:
    """The balanced measure a territory misses by most, relative to its tolerance."""
    return max(tolerances, key=lambda name: abs(item["deviation"].get(name, 0.0)) / tolerances[name])


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
    summary["limited_by_geography"] = report.get("limited_by_geography", 0)
    summary["notes"] = report.get("notes", [])
    if report.get("disruption"):
        summary["units_moved"] = report["disruption"].get("units_moved")
    summary["redesigned"] = (report.get("realign_fallback") or {}).get("kept") == "redesign"
    summary["headline"] = _headline(summary)
    return summary


def _headline(summary: dict) -> str:
    """One line for the job message: the largest deviation against the tolerance, and what could not be balanced."""
    tolerance = ", ".join(f"{name} ±{_percent(value)}" for name, value in summary["tolerance"].items())
    parts = [
        f"largest deviation {summary['max_rel_dev']:.1%} (tolerance {tolerance})",
        "contiguous" if summary["contiguous"] else "NOT contiguous",
    ]
    if summary.get("redesigned"):
        parts.append("redesigned: moves could not repair the current alignment")
    if summary["oversize_singletons"]:
        count = summary["oversize_singletons"]
        parts.append(f"{count} {'territory' if count == 1 else 'territories'} cannot be balanced (an oversize unit)")
    if summary["outside_tolerance"]:
        parts.append(f"{summary['outside_tolerance']} outside the tolerance (the report says why)")
        if summary["limited_by_geography"]:
            parts.append(f"{summary['limited_by_geography']} of them cannot be inside it with these units")
    elif summary["within_tolerance"]:
        parts.append(
            "every other territory within the tolerance"
            if summary["oversize_singletons"]
            else "every territory within the tolerance"
        )
    return "; ".join(parts) + "."
