"""What the manager reads when realignment could not repair the current alignment by moves."""

from types import SimpleNamespace

import pytest

from territories.services.optimizer_runs.notes import balance_notes, run_summary


def _report(fallback: dict | None, pieces: int = 0) -> dict:
    return {
        "balance": {"potential": (1.0, 0.05)},
        "measures": {"potential": {"mean": 100.0, "max_rel_dev": 0.049}},
        "territories": [
            {"territory": "A", "code": "A", "deviation": {"potential": 0.049}},
            {"territory": "B", "code": "B", "deviation": {"potential": -0.049}},
        ],
        "oversize_singletons": [],
        "realign_fallback": fallback,
        "start_pieces_units_moved": pieces,
        "max_rel_dev": 0.049,
        "within_tolerance": True,
        "contiguous": True,
        "mode": "realign",
        "disruption": {"units_moved": 3},
    }


def _scope_layout():
    scope = SimpleNamespace(unit_ids=[1, 2, 3, 4], measures={"potential": [50.0, 55.0, 45.0, 50.0]}, named_accounts=0)
    layout = SimpleNamespace(unit_label={1: "A", 2: "A", 3: "B", 4: "B"})
    return scope, layout


@pytest.mark.django_db
def test_notes_and_headline_say_the_alignment_was_redesigned():
    scope, layout = _scope_layout()
    fallback = {
        "current_max_excess": 66.6,
        "moves_max_excess": 12.16,
        "redesign_max_excess": 0.98,
        "kept": "redesign",
    }
    report = _report(fallback, pieces=35)
    report["notes"] = balance_notes(report=report, scope=scope, layout=layout)
    assert report["notes"][0].startswith("Moving boundary units could not bring the current alignment")
    assert "67 tolerances off" in report["notes"][0] and "redesigned" in report["notes"][0]
    assert report["notes"][1].startswith("35 units of current territories in several pieces")
    summary = run_summary(report)
    assert summary["redesigned"] is True
    assert "redesigned: moves could not repair the current alignment" in summary["headline"]


@pytest.mark.django_db
def test_a_plain_realignment_has_no_such_note():
    scope, layout = _scope_layout()
    report = _report(None)
    report["notes"] = balance_notes(report=report, scope=scope, layout=layout)
    assert report["notes"] == []
    assert "redesigned" not in run_summary(report)["headline"]


@pytest.mark.django_db
def test_a_relocated_territory_is_named_with_what_it_costs_its_rep():
    scope, layout = _scope_layout()
    report = _report(None)
    report["relocation"] = {
        "closed": "B",
        "reopened_in": "A",
        "after_transfers": {"max_excess": 2.2, "move_weight_moved_share": 0.0851},
        "unchanged_after_transfers": {"max_excess": 2.8, "move_weight_moved_share": 0.1151},
    }
    report["notes"] = balance_notes(report=report, scope=scope, layout=layout)
    assert report["notes"] == [
        "B moved to where the market grew: its units went to its neighbouring territories, and it took over half of "
        "A. That moves less than passing the growth on border by border (8.5% of the revenue after the first "
        "transfers instead of 11.5%), but every account of B changes territory; untick “Move a territory” to keep "
        "each territory where it is."
    ]
