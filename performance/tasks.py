"""Celery tasks: thin, idempotent, take ids, run a service inside core.services.job_run."""

from celery import shared_task

from core.models import Job
from core.services import job_create, job_run
from performance.periods import period_parse
from performance.services.kpis import (
    kpi_history_periods,
    kpi_recompute_for_accounts,
    kpi_recompute_periods,
    kpi_recompute_scheduled,
)
from territories.models import Scenario


@shared_task
def kpi_recompute_task(job_id: int, scenario_id: int, period_start: str, period_end: str,
                       territory_ids: list[int] | None = None) -> int:
    """Recompute one period of one scenario (all of it, or only the given territories' accounts)."""

    def work(job, progress):
        scenario = Scenario.objects.get(pk=scenario_id)
        period = period_parse(start=period_start, end=period_end)
        return kpi_recompute_periods(scenario=scenario, periods=[period], territory_ids=territory_ids, job=job,
                                     user=job.created_by, progress=progress)

    return job_run(job_id=job_id, work=work).pk


@shared_task
def kpi_recompute_history_task(job_id: int, scenario_id: int, months: int = 12) -> int:
    """Recompute the last `months` months and the current quarter and year (the dashboard's trends)."""

    def work(job, progress):
        scenario = Scenario.objects.get(pk=scenario_id)
        return kpi_recompute_periods(scenario=scenario, periods=kpi_history_periods(months=months), job=job,
                                     user=job.created_by, progress=progress)

    return job_run(job_id=job_id, work=work).pk


@shared_task
def kpi_recompute_accounts_task(job_id: int, account_ids: list[int], days: list[str] | None = None) -> int:
    """Incremental recompute after these accounts changed (an activity, an import, a move)."""

    def work(job, progress):
        return kpi_recompute_for_accounts(account_ids=account_ids, days=days or (), job=job, progress=progress)

    return job_run(job_id=job_id, work=work).pk


@shared_task
def kpi_recompute_scheduled_task() -> int:
    """Beat's entry point (the schedule lives in django-celery-beat's tables): records its own job row."""
    job = job_create(kind=Job.Kind.KPI_RECOMPUTE, params={"scheduled": True})
    return job_run(job_id=job.pk, work=lambda job, progress: kpi_recompute_scheduled(job=job, progress=progress)).pk
