"""Figures of a plan: balance, contiguity, compactness (Polsby-Popper, equal-area), disruption."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .graph import Geography


def polsby_popper(geo: Geography, labels: np.ndarray, k: int, outline_tolerance_m: float = 0.0) -> np.ndarray:
    """4πA/P² of each territory's dissolved shape in the equal-area projection; with `outline_tolerance_m`, of its
    outline simplified to that many metres first (Douglas-Peucker), as a smaller-scale map would draw it."""
    scores = np.zeros(k)
    for t in range(k):
        members = np.flatnonzero(labels == t)
        if len(members) == 0:
            continue
        cells = geo.cells[members]
        try:
            shape = shapely.coverage_union_all(cells) if geo.kind == "point" else shapely.union_all(cells)
        except shapely.errors.GEOSException:
            shape = shapely.union_all(shapely.make_valid(cells))
        if outline_tolerance_m:
            shape = shapely.simplify(shape, outline_tolerance_m)
        perimeter = shape.length
        scores[t] = 4.0 * math.pi * shape.area / perimeter**2 if perimeter > 0 else 0.0
    return scores


def contiguity(geo: Geography, labels: np.ndarray, k: int) -> np.ndarray:
    """Number of connected pieces of each territory in the unit graph (1 = contiguous)."""
    n = len(labels)
    source = np.repeat(np.arange(n), np.diff(geo.indptr))
    target = geo.indices
    same = labels[source] == labels[target]
    graph = sparse.coo_matrix((np.ones(int(same.sum())), (source[same], target[same])), shape=(n, n))
    _, piece = connected_components(graph, directed=False)
    pieces = np.zeros(k, dtype=int)
    for t in range(k):
        pieces[t] = len(np.unique(piece[labels == t]))
    return pieces


def build_report(
    *,
    units,
    geo: Geography,
    labels: np.ndarray,
    label_names: Sequence[Any],
    balance_measures: Sequence[str],
    tolerances: Mapping[str, float],
    balanced_territories: np.ndarray,  # k bool: territories that are held to the tolerance
    oversize: list[dict],
    locked_labels: Sequence[Any],
    runtime_s: float,
    geography_limits: Sequence[Mapping[str, Any]] = (),
    seed: int,
    current: np.ndarray | None = None,
    current_names: Sequence[Any] | None = None,
    move_weight: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict:
    k = len(label_names)
    pieces = contiguity(geo, labels, k)
    pp = polsby_popper(geo, labels, k)
    counts = np.bincount(labels, minlength=k)
    report_measures = list(dict.fromkeys(list(balance_measures) + list(units.measures)))
    sums = {name: np.bincount(labels, units.measures[name], minlength=k) for name in report_measures}
    held = balanced_territories & (counts > 0)
    territories = []
    measures_summary = {}
    for name in report_measures:
        total = sums[name]
        mean_held = float(total[held].mean()) if held.any() else float(total.mean())
        mean_all = float(total.mean())
        deviation = (total - mean_held) / mean_held if mean_held > 0 else np.zeros(k)
        deviation_all = (total - mean_all) / mean_all if mean_all > 0 else np.zeros(k)
        held_dev = np.abs(deviation[held]) if held.any() else np.zeros(1)
        summary = {
            "mean": mean_held,
            "mean_all_territories": mean_all,
            "max_rel_dev": float(held_dev.max()),
            "max_rel_dev_all_territories": float(np.abs(deviation_all).max()),
        }
        if name in tolerances:
            summary["tolerance"] = tolerances[name]
            summary["within_tolerance"] = bool(held_dev.max() <= tolerances[name] + 1e-9)
        measures_summary[name] = summary
        sums[name + "__dev"] = deviation
    oversize_labels = {item["territory"] for item in oversize}
    # territories holding a unit that no connected territory can balance: their own limit
    position = {unit_id: i for i, unit_id in enumerate(units.ids)}
    limited: dict[int, list[Mapping[str, Any]]] = {}
    for item in geography_limits:
        limited.setdefault(int(labels[position[item["unit"]]]), []).append(item)
    tolerance_of = dict(tolerances)
    for t in range(k):
        limit = None
        if t in limited:
            limit = {
                "units": [item["unit"] for item in limited[t]],
                "best_possible_deviation": {
                    name: max(item["best_possible_deviation"] for item in limited[t] if item["measure"] == name)
                    for name in dict.fromkeys(item["measure"] for item in limited[t])
                },
            }
        territories.append(
            {
                "territory": label_names[t],
                "units": int(counts[t]),
                "sums": {name: float(sums[name][t]) for name in report_measures},
                "deviation": {name: float(sums[name + "__dev"][t]) for name in report_measures},
                "contiguous": bool(pieces[t] == 1),
                "pieces": int(pieces[t]),
                "polsby_popper": round(float(pp[t]), 4),
                "oversize_singleton": label_names[t] in oversize_labels,
                "locked": label_names[t] in set(locked_labels),
                "balance_limited_by_geography": limit,
            }
        )
    # balance over the territories geography lets be balanced, and whether each limited one is as
    # close as its limit allows (within the tolerance of it)
    balanceable = [
        item for t, item in enumerate(territories) if held[t] and item["balance_limited_by_geography"] is None
    ]
    max_dev_balanceable = max(
        (abs(item["deviation"][name]) for item in balanceable for name in balance_measures), default=0.0
    )
    within_possible = all(
        abs(item["deviation"][name])
        <= tolerance_of[name]
        + (item["balance_limited_by_geography"] or {"best_possible_deviation": {}})["best_possible_deviation"].get(
            name, 0.0
        )
        + 1e-9
        for t, item in enumerate(territories)
        if held[t]
        for name in balance_measures
    )
    balance_held = [measures_summary[m] for m in balance_measures]
    report: dict[str, Any] = {
        "k": k,
        "units": len(labels),
        "seed": seed,
        "graph": {"kind": "rook" if geo.kind == "polygon" else "delaunay", "edges": geo.n_edges},
        "equal_area_crs": geo.crs,
        "measures": measures_summary,
        "max_rel_dev": max(item["max_rel_dev"] for item in balance_held),
        "within_tolerance": all(item.get("within_tolerance", True) for item in balance_held),
        "contiguous": bool(np.all(pieces[counts > 0] == 1)),
        "noncontiguous_territories": [label_names[t] for t in range(k) if counts[t] > 0 and pieces[t] != 1],
        "polsby_popper_mean": round(float(pp[counts > 0].mean()), 4),
        "polsby_popper_min": round(float(pp[counts > 0].min()), 4),
        "territories": territories,
        "repairs": list(units.repairs),
        "repairs_count": len(units.repairs),
        "islands_joined": list(geo.islands_joined),
        "oversize_singletons": oversize,
        "geography_limits": list(geography_limits),
        "max_rel_dev_balanceable": max_dev_balanceable,
        "within_tolerance_where_possible": within_possible,
        "runtime_s": round(runtime_s, 3),
    }
    if current is not None:
        report["disruption"] = disruption(units, labels, label_names, current, current_names, move_weight)
    if extra:
        report.update(extra)
    return report


def disruption(units, labels, label_names, current, current_names, move_weight) -> dict:
    """What moves between the current alignment and the plan, overall and per current territory."""
    new_names = np.asarray([label_names[t] for t in labels], dtype=object)
    old_names = np.asarray([current_names[t] for t in current], dtype=object)
    moved = new_names != old_names
    result: dict[str, Any] = {"units_moved": int(moved.sum()), "units_moved_share": float(moved.mean())}
    measures_moved = {}
    for name, values in units.measures.items():
        total = float(values.sum())
        measures_moved[name] = {
            "moved": float(values[moved].sum()),
            "share": float(values[moved].sum() / total) if total else 0.0,
        }
    result["measures_moved"] = measures_moved
    if move_weight:
        result["move_weight"] = move_weight
        result["move_weight_moved"] = measures_moved[move_weight]["moved"]
        result["move_weight_moved_share"] = measures_moved[move_weight]["share"]
    per = {}
    for name in dict.fromkeys(old_names.tolist()):
        out = moved & (old_names == name)
        into = moved & (new_names == name)
        entry = {"units_out": int(out.sum()), "units_in": int(into.sum())}
        if move_weight:
            values = units.measures[move_weight]
            entry[f"{move_weight}_out"] = float(values[out].sum())
            entry[f"{move_weight}_in"] = float(values[into].sum())
        per[str(name)] = entry
    result["per_current_territory"] = per
    return result
