"""A job task for tests/bench/test_two_workers.py; workers load it with `celery worker --include`."""

import os
import time

from celery import shared_task

from core.services import job_run


@shared_task(acks_late=True)
def bench_job_task(job_id: int, seconds: float = 0.2) -> int:
    """Run a job through job_run (as every real task does) and record which worker process ran it."""

    def work(job, progress):
        time.sleep(seconds)
        return {"pid": os.getpid(), "message": "done"}

    return job_run(job_id=job_id, work=work).pk
