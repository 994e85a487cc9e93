"""Recompute runs are idempotent, incremental runs agree with full ones, concurrent runs do not collide."""

import datetime as dt
import threading

import pytest
from django.db import connection, connections

from performance.models import KpiSnapshot
from performance.services.kpis import kpi_recompute, kpi_recompute_scheduled
from tests.factories import ActivityFactory, TerritoryFactory
from tests.performance.conftest import at, build_world


def _state(scenario, period):
    return sorted(
        (s.scope, s.territory_id or 0, s.rep_id or 0, -1 if s.level is None else s.level, s.pk,
         repr(sorted(s.metrics.items())), repr(s.flags))
        for s in KpiSnapshot.objects.filter(scenario=scenario, period_start=period.start, period_end=period.end)
    )


@pytest.mark.django_db
def test_running_twice_gives_the_same_rows_and_no_duplicates(world):
    first = kpi_recompute(scenario=world.scenario, period=world.period)
    before = _state(world.scenario, world.period)
    second = kpi_recompute(scenario=world.scenario, period=world.period)
    assert _state(world.scenario, world.period) == before  # same ids, same figures
    # 3 territories + 2 reps + 2 levels + the scenario
    assert first.rows == second.rows == len(before) == 8
    assert second.changed == 0


@pytest.mark.django_db
def test_an_incremental_run_after_a_visit_matches_a_full_run(world):
    kpi_recompute(scenario=world.scenario, period=world.period)
    ActivityFactory(account=world.b1, rep=world.two, kind="visit", occurred_at=at("2024-09-25"))
    result = kpi_recompute(scenario=world.scenario, period=world.period, territory_ids=[world.l2.pk])
    assert result.incremental
    # L2, the root, the rep, level 1, level 0 and the scenario moved; also L2's coverage flag went away.
    assert result.changed == 6
    incremental = _state(world.scenario, world.period)
    l2 = KpiSnapshot.objects.get(territory=world.l2, period_start=world.period.start).metrics
    assert (l2["covered_accounts"], l2["visit_coverage"], l2["visits"]) == (1, 100.0, 2)
    assert KpiSnapshot.objects.get(territory=world.root, period_start=world.period.start).metrics[
        "visit_coverage"] == 66.7
    kpi_recompute(scenario=world.scenario, period=world.period)
    assert _state(world.scenario, world.period) == incremental


@pytest.mark.django_db
def test_an_activity_logged_for_a_past_computed_period_refreshes_that_period(world):
    from performance.services.kpis import kpi_recompute_for_accounts

    kpi_recompute(scenario=world.scenario, period=world.period)
    ActivityFactory(account=world.b1, rep=world.two, kind="visit", occurred_at=at("2024-09-25"))
    result = kpi_recompute_for_accounts(account_ids=[world.b1.pk], days=[dt.date(2024, 9, 25)])
    assert ("2024-07-01", "2024-09-30") in {(p["period_start"], p["period_end"]) for p in result["periods"]}
    assert len(result["periods"]) == 4  # this month, quarter and year, and Q3 2024 (its month was never computed)
    l2 = KpiSnapshot.objects.get(territory=world.l2, period_start=world.period.start, period_end=world.period.end)
    assert l2.metrics["visit_coverage"] == 100.0


@pytest.mark.django_db
def test_an_incremental_run_without_stored_totals_falls_back_to_a_full_run(world):
    result = kpi_recompute(scenario=world.scenario, period=world.period, territory_ids=[world.l1.pk])
    assert not result.incremental and result.rows == 8


@pytest.mark.django_db
def test_rows_of_a_territory_that_left_the_scenario_are_removed(world):
    extra = TerritoryFactory(scenario=world.scenario, parent=world.root, code="L3")
    kpi_recompute(scenario=world.scenario, period=world.period)
    assert KpiSnapshot.objects.filter(territory=extra).exists()
    extra.delete()  # cascades its snapshots; a rep who stops owning anything is the stale case
    from reps.models import RepAssignment

    RepAssignment.objects.filter(rep=world.two).update(valid_to=dt.date(2024, 6, 30))
    kpi_recompute(scenario=world.scenario, period=world.period)
    assert not KpiSnapshot.objects.filter(rep=world.two, period_start=world.period.start).exists()


@pytest.mark.django_db
def test_the_nightly_run_computes_current_periods_and_fills_in_missing_months(world):
    from core.models import Job

    job = Job.objects.create(kind=Job.Kind.KPI_RECOMPUTE)
    result = kpi_recompute_scheduled(job=job, progress=lambda value, message="": None, today=dt.date(2024, 9, 15))
    periods = {(p["period_start"], p["period_end"]) for p in result["periods"]}
    assert ("2024-09-01", "2024-09-30") in periods and ("2024-07-01", "2024-09-30") in periods
    assert ("2024-01-01", "2024-12-31") in periods and ("2023-10-01", "2023-10-31") in periods
    assert len(periods) == 14  # month, quarter, year + the 11 earlier months never computed
    again = kpi_recompute_scheduled(job=job, progress=lambda value, message="": None, today=dt.date(2024, 9, 15))
    assert len(again["periods"]) == 4  # month, quarter, year and last month; the rest exist now


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_of_the_same_period_wait_for_each_other():
    world = build_world()
    errors = []

    def run():
        try:
            kpi_recompute(scenario=world.scenario, period=world.period)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert KpiSnapshot.objects.filter(scenario=world.scenario).count() == 8
    connection.close()
