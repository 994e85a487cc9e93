"""The foundation: roles, login, health, API schema, set-up checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from core.models import Job
from core.roles import ADMIN, SALES_MANAGER, SALES_REP
from core.services import job_create, job_run

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_role_groups_exist_with_fitting_permissions():
    manager = Group.objects.get(name=SALES_MANAGER)
    rep = Group.objects.get(name=SALES_REP)
    admin = Group.objects.get(name=ADMIN)
    manager_codes = set(manager.permissions.values_list("codename", flat=True))
    rep_codes = set(rep.permissions.values_list("codename", flat=True))
    assert {"change_territory", "add_scenario", "change_account"} <= manager_codes
    assert "view_account" in rep_codes
    assert not {"change_territory", "change_account", "delete_scenario"} & rep_codes
    assert admin.permissions.count() > manager.permissions.count()


@pytest.mark.django_db
def test_login_page_then_logout(client, manager_user):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b"Sign in" in response.content
    response = client.post(reverse("login"), {"username": "manager-user", "password": "pass-word-123"})
    assert response.status_code == 302
    assert client.get(reverse("home"), follow=True).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302  # back to the login page


@pytest.mark.django_db
def test_wrong_password_is_refused_with_a_message(client, manager_user):
    response = client.post(reverse("login"), {"username": "manager-user", "password": "wrong"})
    assert response.status_code == 200
    assert b"didn't match" in response.content


@pytest.mark.django_db
def test_openapi_schema_and_docs_are_served_without_a_cdn(client, manager_user):
    client.force_login(manager_user)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "Territory Manager API"
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn." not in docs.content and b"unpkg" not in docs.content


@pytest.mark.django_db(transaction=True)
def test_healthz_reports_all_services_when_the_worker_runs(client, celery_worker_process):
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]
    assert body["checks"]["worker"]["workers"] >= 1


@pytest.mark.django_db
def test_healthz_is_503_and_names_redis_when_redis_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_failed_job_records_the_error_and_a_rerun_succeeds():
    job = job_create(kind=Job.Kind.OTHER)

    def broken(job, progress):
        progress(40, "half way")
        raise ValueError("the input file has no rows")

    job = job_run(job_id=job.pk, work=broken)
    assert job.status == Job.Status.FAILED
    assert job.message == "the input file has no rows"
    assert job.progress == 40
    job = job_run(job_id=job.pk, work=lambda job, progress: {"message": "imported 3 rows"})
    assert (job.status, job.message, job.attempts, job.progress) == (Job.Status.SUCCEEDED, "imported 3 rows", 2, 100)


def _preflight(**overrides):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", **overrides}
    return subprocess.run([sys.executable, "scripts/preflight.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def test_preflight_names_a_wrong_database_url_in_one_line():
    result = _preflight(DATABASE_URL="postgis://nobody:x@127.0.0.1:1/nothing")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ERROR: cannot use the PostGIS database at 127.0.0.1:1/nothing")
    assert "DATABASE_URL" in lines[0]


def test_preflight_names_an_unreachable_redis_in_one_line():
    result = _preflight(REDIS_URL="redis://127.0.0.1:1/0")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach Redis at redis://127.0.0.1:1/0" in lines[0], result.stderr


def test_preflight_names_missing_gdal_in_one_line():
    result = _preflight(GDAL_LIBRARY_PATH="/nonexistent/libgdal.so")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "GDAL" in lines[0] and "apt-get install" in lines[0], result.stderr


def test_preflight_names_a_malformed_database_url_in_one_line():
    result = _preflight(DATABASE_URL="not a url")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "DATABASE_URL" in lines[0] and "GDAL" not in lines[0], result.stderr


@pytest.mark.django_db
def test_an_idempotency_key_returns_the_same_job_and_queues_it_once(manager_user, rep_user):
    first = job_create(kind=Job.Kind.ALLOCATION, created_by=manager_user, idempotency_key="run-42")
    again = job_create(kind=Job.Kind.ALLOCATION, created_by=manager_user, idempotency_key="run-42")
    other_user = job_create(kind=Job.Kind.ALLOCATION, created_by=rep_user, idempotency_key="run-42")
    assert first.pk == again.pk != other_user.pk
    assert (first._created, again._created, other_user._created) == (True, False, True)
    assert Job.objects.count() == 2


@pytest.mark.django_db
def test_sign_in_pauses_after_repeated_failures(client, manager_user, settings):
    from django.core.cache import cache

    from core.login_throttle import _key

    # Never cache.clear(): Redis DB 0 also holds the Celery queues of every running session.
    settings.LOGIN_FAILURE_LIMIT = 3
    keys = [_key(type("R", (), {"META": {"REMOTE_ADDR": "127.0.0.1"}})(), name) for name in ("manager-user", "someone")]
    cache.delete_many(keys)
    for _ in range(3):
        assert client.post(reverse("login"), {"username": "manager-user", "password": "bad"}).status_code == 200
    blocked = client.post(reverse("login"), {"username": "manager-user", "password": "pass-word-123"})
    assert blocked.status_code == 429
    assert b"Too many failed sign-ins" in blocked.content
    # Another user name from the same address is not blocked.
    assert client.post(reverse("login"), {"username": "someone", "password": "x"}).status_code == 200
    cache.delete_many(keys)


def test_production_settings_pass_the_deploy_check():
    # The browser fixture sets DJANGO_ALLOW_ASYNC_UNSAFE for Playwright; a deployment never has it.
    env = {**{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
           "DJANGO_SETTINGS_MODULE": "config.settings.production",
           "DJANGO_SECRET_KEY": "k3J!x9-qZ2@vL8#mW4$tR7^pN1&bY6*cF0(hD5)gS3_aE8+uO2=iT9",
           "DJANGO_ALLOWED_HOSTS": "territory.example.com"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.production", "DJANGO_SECRET_KEY": ""}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


@pytest.mark.django_db
def test_a_running_job_whose_worker_went_silent_is_failed_and_retryable(django_assert_num_queries):
    import datetime as dt

    from django.utils import timezone

    from core.services import STALE_MESSAGE, JobNotRetryable, job_fail_stale, job_retry

    silent = job_create(kind=Job.Kind.ALLOCATION)
    alive = job_create(kind=Job.Kind.ALLOCATION)
    Job.objects.filter(pk=silent.pk).update(status=Job.Status.RUNNING,
                                             heartbeat_at=timezone.now() - dt.timedelta(minutes=30))
    Job.objects.filter(pk=alive.pk).update(status=Job.Status.RUNNING, heartbeat_at=timezone.now())
    assert job_fail_stale(older_than_seconds=900) == 1
    silent.refresh_from_db()
    alive.refresh_from_db()
    assert (silent.status, silent.message) == (Job.Status.FAILED, STALE_MESSAGE)
    assert alive.status == Job.Status.RUNNING
    with pytest.raises(JobNotRetryable, match="no task recorded"):
        job_retry(job=silent)
    with pytest.raises(JobNotRetryable, match="Only failed jobs"):
        job_retry(job=alive)


@pytest.mark.django_db
def test_the_stale_job_check_is_scheduled_in_the_database():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="core.tasks.job_fail_stale_task")
    assert task.enabled and task.interval.every == 5


@pytest.mark.django_db
def test_the_periodic_job_check_resends_jobs_queued_while_the_broker_was_down(manager_user):
    from core.services import QUEUE_UNAVAILABLE_MESSAGE
    from core.tasks import job_fail_stale_task

    unsent = job_create(kind=Job.Kind.KPI_RECOMPUTE, created_by=manager_user)
    Job.objects.filter(pk=unsent.pk).update(message=QUEUE_UNAVAILABLE_MESSAGE,
                                            task_name="core.tasks.webhook_deliver_task", task_args=[])
    assert job_fail_stale_task() == {"failed": 0, "resent": 1}
    unsent.refresh_from_db()
    assert unsent.status == Job.Status.QUEUED and unsent.message != QUEUE_UNAVAILABLE_MESSAGE
