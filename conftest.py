"""Shared fixtures: users per role, a real Celery worker on the test database, a browser."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
# Each test session gets its own queues, so parallel sessions on one Redis never take each other's tasks.
TEST_QUEUE = f"test-{uuid.uuid4().hex[:8]}"


def pytest_configure(config):
    if not config.pluginmanager.hasplugin("django"):
        return  # e.g. `pytest -p no:django tests/optimizer`: the optimiser needs no Django
    from django.conf import settings

    settings.CELERY_TASK_DEFAULT_QUEUE = TEST_QUEUE
    settings.CELERY_TASK_ROUTES = {"territories.tasks.optimizer_run_task": {"queue": f"{TEST_QUEUE}-optimizer"}}
    from config.celery_app import app

    app.conf.task_default_queue = TEST_QUEUE
    app.conf.task_routes = settings.CELERY_TASK_ROUTES


@pytest.fixture
def user_factory(db):
    from tests.factories import UserFactory

    return UserFactory


@pytest.fixture
def admin_user(db):
    from tests.factories import UserFactory

    return UserFactory(username="admin-user", role="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def manager_user(db):
    from tests.factories import UserFactory

    return UserFactory(username="manager-user", role="sales manager")


@pytest.fixture
def rep_user(db):
    from tests.factories import UserFactory

    return UserFactory(username="rep-user", role="sales rep")


@pytest.fixture
def manager_client(client, manager_user):
    client.force_login(manager_user)
    return client


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real `celery worker` subprocess consuming this session's queues on the test database."""
    from django.db import connection

    from config.celery_app import app

    env = dict(os.environ)
    settings_dict = connection.settings_dict
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=(
            f"postgis://{settings_dict['USER']}:{settings_dict['PASSWORD']}@{settings_dict['HOST'] or '127.0.0.1'}:"
            f"{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
        ),
        CELERY_DEFAULT_QUEUE=TEST_QUEUE,
        CELERY_OPTIMIZER_QUEUE=f"{TEST_QUEUE}-optimizer",
    )
    log_path = ROOT / "tests" / "artifacts" / f"celery-{TEST_QUEUE}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w")  # noqa: SIM115 (kept open for the worker's lifetime)
    hostname = f"{TEST_QUEUE}@%h"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", f"{TEST_QUEUE},{TEST_QUEUE}-optimizer",
         "--pool", "threads", "--concurrency", "2", "--hostname", hostname, "--loglevel", "INFO",
         "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Celery worker exited early; see {log_path}")
        replies = app.control.ping(timeout=0.5, destination=[hostname.replace("%h", os.uname().nodename)])
        if replies:
            break
    else:
        process.terminate()
        raise RuntimeError(f"the Celery worker did not answer within 60 s; see {log_path}")
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(autouse=True)
def worker_jobs_finish(request):
    """A test that uses the real worker ends only once the jobs queued during it have finished, follow-ups included
    (an allocation queues a KPI refresh): the database flush after the test deadlocks with a job still writing."""
    if "celery_worker_process" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("transactional_db")  # set up first, so torn down (flushed) after the wait below
    from core.models import Job

    last_before = Job.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    yield
    unfinished = Job.objects.filter(pk__gt=last_before, status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
    deadline = time.monotonic() + 30
    while unfinished.exists() and time.monotonic() < deadline:
        time.sleep(0.2)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2):
    """Poll until predicate() is truthy; returns its value or raises after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright (a browser download does not work here)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django's ORM would refuse to run beside it.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=executable,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield instance
        instance.close()


@pytest.fixture
def screenshot_dir():
    path = ROOT / "tests" / "artifacts" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
