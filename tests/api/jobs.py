"""Run a queued command's job in the test process, as the worker would (its task and arguments are on the job)."""

from celery import current_app

from core.models import Job


def job_run_now(response) -> Job:
    """Given a 202 answer, run its job's task synchronously and return the finished job."""
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["job"])
    current_app.tasks[job.task_name](job.pk, *job.task_args)
    job.refresh_from_db()
    return job
