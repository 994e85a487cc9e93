"""Two `celery worker` processes (as on two machines) consume the same queues: every job runs exactly once."""

import os
import subprocess
import sys
import time
import uuid

import pytest
from django.db import connection

import conftest
from core.models import Job
from core.services import job_create
from tests.bench.worker_tasks import bench_job_task

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_workers():
    """Two worker processes on the test database, both consuming this test's default and long-job queues."""
    from config.celery_app import app

    queue = f"{conftest.TEST_QUEUE}-pair-{uuid.uuid4().hex[:4]}"
    settings_dict = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=(f"postgis://{settings_dict['USER']}:{settings_dict['PASSWORD']}@"
                      f"{settings_dict['HOST'] or '127.0.0.1'}:{settings_dict['PORT'] or 5432}/"
                      f"{settings_dict['NAME']}"),
        CELERY_DEFAULT_QUEUE=queue, CELERY_OPTIMIZER_QUEUE=f"{queue}-long",
    )
    log_dir = conftest.ROOT / "tests" / "artifacts"
    log_dir.mkdir(parents=True, exist_ok=True)
    processes, logs, hostnames = [], [], []
    for number in (1, 2):
        hostname = f"w{number}-{queue}@{os.uname().nodename}"
        log = open(log_dir / f"celery-{queue}-w{number}.log", "w")  # noqa: SIM115 (the worker's lifetime)
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", f"{queue},{queue}-long",
             "--include", "tests.bench.worker_tasks", "--pool", "solo", "--hostname", hostname,
             "--loglevel", "INFO", "--without-gossip", "--without-mingle"],
            cwd=conftest.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        ))
        logs.append(log)
        hostnames.append(hostname)
    try:
        deadline = time.monotonic() + 60
        while len(app.control.ping(timeout=0.5, destination=hostnames)) < 2:
            assert time.monotonic() < deadline, "the two workers did not answer within 60 s"
            assert all(process.poll() is None for process in processes), "a worker exited early"
        yield queue, [process.pid for process in processes]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()


def test_two_workers_share_the_queues_and_run_each_job_once(two_workers):
    queue, pids = two_workers
    jobs = []
    for number in range(16):
        job = job_create(kind=Job.Kind.OTHER, params={"number": number})
        # Half on the default queue, half on the long-job queue; both workers consume both.
        bench_job_task.apply_async(args=(job.pk, 0.3), queue=queue if number % 2 else f"{queue}-long")
        jobs.append(job.pk)

    def finished():
        done = list(Job.objects.filter(pk__in=jobs, status__in=["succeeded", "failed"]))
        return done if len(done) == len(jobs) else None

    done = conftest.wait_for(finished, timeout=60)
    assert {job.status for job in done} == {"succeeded"}
    assert {job.attempts for job in done} == {1}  # none ran twice
    ran_on = [job.result["pid"] for job in done]
    assert set(ran_on) <= set(pids)
    assert set(ran_on) == set(pids), f"one worker took every job: {ran_on}"
