"""Job lifecycle: create, queue after commit, report progress, finish."""

import datetime as dt
import logging
import traceback
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.models import Job

logger = logging.getLogger(__name__)


def job_create(*, kind: str, params: dict | None = None, created_by=None, idempotency_key: str = "") -> Job:
    """A new queued job; with an idempotency key already used by this user, that earlier job instead.

    Callers check `job._created` to know whether to queue the work (a retried POST must not run it twice).
    """
    if idempotency_key and created_by is not None:
        job, created = Job.objects.get_or_create(
            created_by=created_by, idempotency_key=idempotency_key[:200],
            defaults={"kind": kind, "params": params or {}},
        )
        job._created = created
        return job
    job = Job.objects.create(kind=kind, params=params or {}, created_by=created_by)
    job._created = True
    return job


QUEUE_UNAVAILABLE_MESSAGE = "Queued, but the task queue is unavailable; it will need to be retried."


def job_enqueue(*, job: Job, task, args: tuple = ()) -> Job:
    """Queue the task once the surrounding transaction commits; if the broker is down, say so on the job.

    A job found again through its idempotency key is not queued a second time.
    """
    if not getattr(job, "_created", True):
        return job
    Job.objects.filter(pk=job.pk).update(task_name=task.name, task_args=list(args))

    def _send():
        try:
            task.apply_async(args=(job.pk, *args), retry=False)
        except Exception as exc:  # broker unreachable: the job stays queued and can be retried
            logger.warning("Could not queue job %s: %s", job.pk, exc)
            Job.objects.filter(pk=job.pk).update(message=QUEUE_UNAVAILABLE_MESSAGE)

    transaction.on_commit(_send)
    return job


def job_progress(*, job_id: int, progress: float, message: str = "") -> None:
    """Record progress outside any surrounding transaction so pages see it while the job runs."""
    Job.objects.filter(pk=job_id).update(
        progress=max(0.0, min(100.0, progress)), message=message[:500], heartbeat_at=timezone.now()
    )


def job_run(*, job_id: int, work: Callable[[Job, Callable[[float, str], None]], dict[str, Any]]) -> Job:
    """Run `work` for a job: mark it running, then succeeded with its result, or failed with the error.

    The work itself should be atomic, so a failure leaves the data as it was before the job.
    """
    job = Job.objects.get(pk=job_id)
    if job.status == Job.Status.SUCCEEDED:
        return job  # idempotent: a redelivered message does nothing twice
    Job.objects.filter(pk=job_id).update(
        status=Job.Status.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now(),
        attempts=job.attempts + 1, error="",
    )
    job.refresh_from_db()

    def progress(value: float, message: str = "") -> None:
        job_progress(job_id=job_id, progress=value, message=message)

    try:
        result = work(job, progress) or {}
    except Exception as exc:
        Job.objects.filter(pk=job_id).update(
            status=Job.Status.FAILED,
            finished_at=timezone.now(),
            error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}",
            message=str(exc)[:500],
        )
        job.refresh_from_db()
        _announce_finished(job)
        return job
    Job.objects.filter(pk=job_id).update(
        status=Job.Status.SUCCEEDED, finished_at=timezone.now(), progress=100.0, result=result,
        message=(result.get("message") if isinstance(result, dict) else "") or "Done",
    )
    job.refresh_from_db()
    _announce_finished(job)
    return job


def _announce_finished(job: Job) -> None:
    from core.webhooks import webhook_emit

    webhook_emit(event="job.finished", payload={"job": job.pk, "kind": job.kind, "status": job.status,
                                                "message": job.message, "result": job.result})


STALE_MESSAGE = "The worker stopped while running this job; nothing it was doing was kept. Retry it."


def job_fail_stale(*, older_than_seconds: int) -> int:
    """Mark running jobs whose worker went silent as failed (their work was one transaction, so rolled back)."""
    cutoff = timezone.now() - dt.timedelta(seconds=older_than_seconds)
    return Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=cutoff).update(
        status=Job.Status.FAILED, finished_at=timezone.now(), message=STALE_MESSAGE, error=STALE_MESSAGE
    )


class JobNotRetryable(Exception):
    pass


def job_is_unsent(job: Job) -> bool:
    """Queued while the broker was down: the queue never received it, so nothing will run it until re-sent."""
    return job.status == Job.Status.QUEUED and job.message == QUEUE_UNAVAILABLE_MESSAGE


def job_retry(*, job: Job) -> Job:
    """Queue a failed job (or one the queue never received) again with the same task and arguments."""
    from celery import current_app

    if job.status != Job.Status.FAILED and not job_is_unsent(job):
        raise JobNotRetryable(f"Only failed jobs can be retried; this one is {job.get_status_display().lower()}.")
    if not job.task_name:
        raise JobNotRetryable("This job has no task recorded, so it cannot be retried.")
    Job.objects.filter(pk=job.pk).update(status=Job.Status.QUEUED, progress=0.0, message="Queued again", error="")
    job.refresh_from_db()
    job_enqueue(job=job, task=current_app.tasks[job.task_name], args=tuple(job.task_args))
    return job


def job_resend_unsent() -> int:
    """Send again every job queued while the broker was down (run when it is back; each send is recorded again)."""
    jobs = list(Job.objects.filter(status=Job.Status.QUEUED, message=QUEUE_UNAVAILABLE_MESSAGE).exclude(task_name=""))
    for job in jobs:
        job_retry(job=job)
    return len(jobs)
