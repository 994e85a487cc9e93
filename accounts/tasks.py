"""Celery entry points for accounts: thin wrappers that take ids and call the services through job_run."""

from celery import shared_task

from core.services import job_run


@shared_task(acks_late=True)
def allocation_run_task(
    job_id: int,
    scenario_id: int,
    dry_run: bool = False,
    account_ids: list[int] | None = None,
    territory_ids: list[int] | None = None,
    trigger: str = "",
) -> None:
    """Allocate (or preview) a scenario; the job's result is the run's summary. `trigger` says what asked for it
    when it was not a person (a boundary or rule edit, say); it is kept in the run's summary."""
    from accounts.services.allocation import allocation_preview, allocation_run
    from territories.models import Scenario

    def work(job, progress):
        scenario = Scenario.objects.get(pk=scenario_id)
        # The same entry points as a call from code: a real run that changed books queues the KPI refresh.
        run = (allocation_preview if dry_run else allocation_run)(
            scenario=scenario,
            account_ids=account_ids,
            territory_ids=territory_ids,
            created_by=job.created_by,
            job=job,
            progress=progress,
            trigger=trigger,
        )
        verb = "would change" if dry_run else "changed"
        return {
            **run.summary,
            "run_id": run.pk,
            "message": f"{run.summary['changed']} accounts {verb}; {run.summary['unassigned']} unassigned; "
            f"{run.summary['multi_matches']} multi-matches.",
        }

    job_run(job_id=job_id, work=work)


@shared_task(acks_late=True)
def account_import_task(
    job_id: int,
    path: str,
    file_format: str | None = None,
    skip_bad_rows: bool = False,
    scenario_id: int | None = None,
    reallocate: bool = True,
) -> None:
    from accounts.services.imports import account_import
    from territories.models import Scenario

    def work(job, progress):
        scenario = Scenario.objects.get(pk=scenario_id) if scenario_id else None
        return account_import(
            path=path,
            file_format=file_format,
            skip_bad_rows=skip_bad_rows,
            scenario=scenario,
            reallocate=reallocate,
            progress=progress,
        )

    job_run(job_id=job_id, work=work)
