"""KPI jobs through the real Celery worker, the nightly schedule in django-celery-beat, and the benchmark."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone

import conftest
from core.models import Job
from performance.models import Activity, KpiSnapshot
from performance.periods import MONTH, local_today, period_of
from performance.services.kpis import kpi_recompute_request, kpi_refresh_after_activity
from tests.performance.conftest import build_world

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_recompute_and_a_logged_visit_go_through_the_celery_worker(celery_worker_process):
    world = build_world()
    with transaction.atomic():
        job = kpi_recompute_request(scenario=world.scenario, period=world.period)
    job = conftest.wait_for(lambda: Job.objects.filter(pk=job.pk, status__in=["succeeded", "failed"]).first())
    assert (job.status, job.progress, job.result["rows"]) == ("succeeded", 100.0, 8), job.error
    assert KpiSnapshot.objects.filter(scenario=world.scenario, period_start=world.period.start).count() == 8

    # A visit logged now shows in this month's coverage within seconds (queued after the commit).
    started = time.monotonic()
    with transaction.atomic():
        activity = Activity.objects.create(account=world.b1, rep=world.two, kind="visit", occurred_at=timezone.now())
        refresh = kpi_refresh_after_activity(activity)
    month = period_of(MONTH, local_today())

    def covered():
        snapshot = KpiSnapshot.objects.filter(territory=world.l2, period_start=month.start,
                                              period_end=month.end).first()
        return snapshot if snapshot and snapshot.metrics["covered_accounts"] == 1 else None

    snapshot = conftest.wait_for(covered, timeout=30)
    assert snapshot.metrics["visit_coverage"] == 100.0
    assert time.monotonic() - started < 15
    refresh = conftest.wait_for(lambda: Job.objects.filter(pk=refresh.pk, status__in=["succeeded", "failed"]).first())
    assert refresh.status == "succeeded" and len(refresh.result["periods"]) == 3  # month, quarter, year


@pytest.mark.django_db
def test_the_nightly_recompute_is_a_beat_schedule_kept_in_the_database():
    from django_celery_beat.models import PeriodicTask

    from config.celery_app import app

    task = PeriodicTask.objects.get(name="Nightly KPI recompute")
    assert task.task == "performance.tasks.kpi_recompute_scheduled_task" and task.enabled
    assert (task.crontab.hour, task.crontab.minute) == ("2", "30")
    app.loader.import_default_modules()
    assert task.task in app.tasks


@pytest.mark.django_db
def test_the_benchmark_runs_small_and_ends_with_one_json_line():
    settings_dict = connection.settings_dict
    base = (f"postgis://{settings_dict['USER']}:{settings_dict['PASSWORD']}@{settings_dict['HOST'] or '127.0.0.1'}:"
            f"{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}")
    env = {**os.environ, "DATABASE_URL": base, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    try:
        result = subprocess.run([sys.executable, "bench/kpi.py", "--accounts", "2000"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        lines = result.stdout.strip().splitlines()
        summary = json.loads(lines[-1])
        assert summary["accounts"] == 2000 and summary["activities"] == 10000 and summary["opportunities"] == 1000
        assert {"full_recompute_s", "incremental_s", "baseline_s", "ratio", "peak_rss_mb"} <= set(summary)
        assert summary["incremental_was_incremental"] is True
        assert "accounts" in result.stdout and "full recompute" in result.stdout
    finally:
        import psycopg

        maintenance = base.replace("postgis://", "postgresql://").rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(maintenance, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{settings_dict["NAME"]}_bench_kpi" WITH (FORCE)')
