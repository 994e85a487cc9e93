"""Each KPI on the hand-checked world of conftest.build_world, to the exact value.

Q3 2024 (92 days). L1 = a1 (A), a2 (B), a3 (C); L2 = b1 (A). Cadences A 12/yr x 60 min, B 4/yr x 30 min.
- revenue won: L1 30,000 (a1); L2 90,000; the a1 deal closing 2024-10-10 is outside the period.
- quota: L1 60,000; L2 400,000 x 92/366 = 100,546.45; R has none, so 160,546.45 (sum of its children).
- attainment: L1 30,000/60,000 = 50.0%; L2 90,000/100,546.45 = 89.5%; R 120,000/160,546.45 = 74.7%.
- pipeline (open, closing in the period): L1 50,000, L2 40,000; coverage of the remaining quota:
  L1 50,000/30,000 = 1.67; L2 40,000/10,546.45 = 3.79; R 90,000/40,546.45 = 2.22.
- win rate: L1 1 won of 2 closed = 50.0%; L2 100.0%; R 2 of 3 = 66.7%.
- visit coverage at 2024-10-01 00:00 local: a1 visited 11 days before (cadence 30.4 days) yes; a2 visited
  153 days before (cadence 91.25) no; a3 has no cadence; b1 47 days before (30.4) no.
  L1 1/2 = 50.0%, L2 0/1 = 0.0%, R 1/3 = 33.3%.
- workload hours: a1 12 x 60/60 = 12, a2 4 x 30/60 = 2, b1 12: L1 14 h / 100 h = 14.0%; L2 12 / 50 = 24.0%;
  R 26 / 150 = 17.3%.
- potential: L1 600, L2 1,000, mean 800: index 75.0 and 125.0; CV = stddev_pop 200 / 800 = 0.25; largest
  deviation 200/800 = 0.25. Workload 14 and 12: CV 1/13 = 0.0769. Accounts 3 and 1: CV 0.5.
- Gini of potential across reps (600, 1,000): |600 - 1000| x 2 / (2 x 2^2 x 800) = 0.125.
"""

import pytest

from performance.models import KpiSnapshot
from performance.selectors import quota_rollup
from performance.services.kpis import kpi_recompute

pytestmark = pytest.mark.django_db


@pytest.fixture
def snapshots(world):
    kpi_recompute(scenario=world.scenario, period=world.period)
    rows = KpiSnapshot.objects.filter(scenario=world.scenario, period_start=world.period.start)

    def get(**subject):
        return rows.get(**subject)

    return world, get


def test_quota_rolls_up_to_a_parent_without_its_own_and_prorates_by_days(world):
    targets = quota_rollup(scenario=world.scenario, period=world.period)
    assert {k: str(v) for k, v in targets.items()} == {
        world.l1.pk: "60000.00", world.l2.pk: "100546.45", world.root.pk: "160546.45"
    }


def test_a_parent_quota_of_its_own_wins_over_the_sum_of_its_children(world):
    from decimal import Decimal

    from tests.factories import QuotaFactory

    QuotaFactory(territory=world.root, period_start=world.period.start, period_end=world.period.end,
                 target=Decimal("150000"))
    assert quota_rollup(scenario=world.scenario, period=world.period)[world.root.pk] == Decimal("150000.00")


def test_revenue_attainment_pipeline_and_win_rate(snapshots):
    world, get = snapshots
    l1 = get(scope="territory", territory=world.l1).metrics
    l2 = get(scope="territory", territory=world.l2).metrics
    root = get(scope="territory", territory=world.root).metrics
    assert (l1["revenue_won"], l1["quota_revenue"], l1["attainment"]) == (30000, 60000, 50.0)
    assert (l2["revenue_won"], l2["quota_revenue"], l2["attainment"]) == (90000, 100546.45, 89.5)
    assert (root["revenue_won"], root["quota_revenue"], root["attainment"]) == (120000, 160546.45, 74.7)
    assert (l1["pipeline"], l1["pipeline_coverage"]) == (50000, 1.67)
    assert (l2["pipeline"], l2["pipeline_coverage"]) == (40000, 3.79)
    assert (root["pipeline"], root["pipeline_coverage"]) == (90000, 2.22)
    assert (l1["won_count"], l1["lost_count"], l1["win_rate"]) == (1, 1, 50.0)
    assert (l2["win_rate"], root["win_rate"]) == (100.0, 66.7)


def test_visit_coverage_against_each_tier_cadence(snapshots):
    world, get = snapshots
    l1 = get(scope="territory", territory=world.l1).metrics
    l2 = get(scope="territory", territory=world.l2).metrics
    root = get(scope="territory", territory=world.root).metrics
    assert (l1["eligible_accounts"], l1["covered_accounts"], l1["visit_coverage"]) == (2, 1, 50.0)
    assert (l2["eligible_accounts"], l2["covered_accounts"], l2["visit_coverage"]) == (1, 0, 0.0)
    assert root["visit_coverage"] == 33.3
    assert (l1["visits"], l1["activities"], l2["visits"], l2["activities"]) == (1, 2, 1, 1)


def test_workload_and_potential_indexes(snapshots):
    world, get = snapshots
    l1 = get(scope="territory", territory=world.l1).metrics
    l2 = get(scope="territory", territory=world.l2).metrics
    root = get(scope="territory", territory=world.root).metrics
    assert (l1["workload_hours"], l1["capacity_hours"], l1["workload_index"]) == (14, 100, 14.0)
    assert (l2["workload_hours"], l2["capacity_hours"], l2["workload_index"]) == (12, 50, 24.0)
    assert (root["workload_hours"], root["capacity_hours"], root["workload_index"]) == (26, 150, 17.3)
    assert (l1["potential"], l1["potential_index"], l2["potential_index"]) == (600, 75.0, 125.0)
    assert root["potential_index"] == 100.0  # alone on its level


def test_rep_kpis_cover_the_territories_they_own_and_inherit_their_quota(snapshots):
    world, get = snapshots
    one = get(scope="rep", rep=world.one).metrics
    two = get(scope="rep", rep=world.two).metrics
    assert (one["account_count"], one["quota_revenue"], one["attainment"], one["visit_coverage"]) == (3, 60000, 50.0,
                                                                                                      50.0)
    assert (two["quota_revenue"], two["attainment"], two["workload_index"]) == (100546.45, 89.5, 24.0)
    assert (one["potential_index"], two["potential_index"]) == (75.0, 125.0)


def test_balance_of_the_alignment_and_gini_across_reps(snapshots):
    world, get = snapshots
    whole = get(scope="scenario").metrics
    assert (whole["cv_potential"], whole["max_deviation_potential"]) == (0.25, 0.25)
    assert (whole["cv_workload_hours"], whole["max_deviation_workload_hours"]) == (0.0769, 0.0769)
    assert (whole["cv_account_count"], whole["max_deviation_account_count"]) == (0.5, 0.5)
    assert whole["gini_potential_reps"] == 0.125
    assert (whole["account_count"], whole["revenue_won"], whole["attainment"]) == (4, 120000, 74.7)
    leaves = get(scope="level", level=1).metrics
    assert (leaves["territory_count"], leaves["cv_potential"], leaves["attainment"]) == (2, 0.25, 74.7)
    assert get(scope="level", level=0).metrics["territory_count"] == 1


def test_flags_give_the_reason_and_a_place_to_act(snapshots):
    world, get = snapshots
    l1 = get(scope="territory", territory=world.l1)
    l2 = get(scope="territory", territory=world.l2)
    root = get(scope="territory", territory=world.root)
    assert {(f["code"], f["reason"]) for f in l1.flags} == {
        ("under_performing", "attainment 50% under 80% while coverage 50% under 60%"),
        ("unbalanced", "potential 25% below the mean of its level (tolerance 20%)"),
    }
    assert {(f["code"], f["reason"]) for f in l2.flags} == {
        ("low_coverage", "visit coverage 0% under 60%"),
        ("unbalanced", "potential 25% above the mean of its level (tolerance 20%)"),
    }
    assert [(f["code"], f["reason"]) for f in root.flags] == [
        ("under_performing", "attainment 75% under 80% while coverage 33% under 60%")]
    from performance.selectors import kpi_flags_with_links

    links = {flag["code"]: flag["link"] for flag in kpi_flags_with_links(l1)}
    assert links["unbalanced"] == f"/workspace/?scenario={world.scenario.pk}&territory={world.l1.pk}"  # realign
    assert links["under_performing"] == f"/reps/coverage/?territory={world.l1.pk}"  # reassign or plan visits
    assert {f["action"] for f in l1.flags} == {"reassign", "realign"}


def test_a_vacant_territory_with_accounts_is_flagged(world):
    from performance.periods import Period
    from reps.models import RepAssignment

    RepAssignment.objects.filter(territory=world.l2).delete()
    kpi_recompute(scenario=world.scenario, period=world.period)
    l2 = KpiSnapshot.objects.get(scope="territory", territory=world.l2, period_start=world.period.start)
    assert {"code": "vacant", "severity": "high", "action": "reassign",
            "reason": "no owner for 1 accounts"} in l2.flags
    assert isinstance(world.period, Period)


def test_an_account_in_two_territories_counts_once_wherever_they_are_added_up(world):
    """An overlay territory O under R, owned by rep One beside L1, also holds b1 (L2's) and a1 (L1's): O counts
    both (1,100 of potential); R, the leaf level, the scenario and One's book count each account once."""
    import datetime as dt

    from accounts.models import AccountAssignment
    from tests.factories import AccountAssignmentFactory, RepAssignmentFactory, TerritoryFactory
    from tests.performance.conftest import at

    overlay = TerritoryFactory(scenario=world.scenario, parent=world.root, code="O", name="Overlay")
    RepAssignmentFactory(rep=world.one, territory=overlay, valid_from=dt.date(2024, 1, 1))
    kpi_recompute(scenario=world.scenario, period=world.period)  # no account held twice yet: that is remembered
    for account in (world.b1, world.a1):
        AccountAssignmentFactory(account=account, territory=overlay, valid_from=at("2024-01-01"))
    kpi_recompute(scenario=world.scenario, period=world.period)  # the assignments changed: found again
    rows = KpiSnapshot.objects.filter(scenario=world.scenario, period_start=world.period.start)

    def figures(**subject):
        metrics = rows.get(**subject).metrics
        return metrics["account_count"], metrics["potential"], metrics["revenue_won"], metrics["visits"]

    assert figures(scope="territory", territory=overlay) == (2, 1100, 120000, 2)
    assert figures(scope="territory", territory=world.l1) == (3, 600, 30000, 1)  # its own figures are untouched
    assert figures(scope="territory", territory=world.root) == (4, 1600, 120000, 2)
    assert figures(scope="level", level=1) == (4, 1600, 120000, 2)
    assert figures(scope="scenario") == (4, 1600, 120000, 2)
    assert figures(scope="rep", rep=world.one) == (4, 1600, 120000, 2)  # L1 and O: a1 once
    assert rows.get(scope="territory", territory=world.root).metrics["workload_hours"] == 26  # a1 12 + a2 2 + b1 12

    # b1 leaves the overlay: the next run sees a1 alone held twice
    AccountAssignment.objects.filter(account=world.b1, territory=overlay).update(valid_to=at("2024-06-01"))
    kpi_recompute(scenario=world.scenario, period=world.period)
    assert figures(scope="territory", territory=overlay) == (1, 100, 30000, 1)
    assert figures(scope="territory", territory=world.root) == (4, 1600, 120000, 2)
