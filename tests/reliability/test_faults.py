"""Faults the tests cause themselves, on processes they started (tests/reliability/conftest.py): their own Redis
stopped and started again, their own Celery worker killed with SIGKILL in the middle of a job.

What must hold: with Redis down, pages and reads work (sessions live in the database, every cache use fails
soft) and commands are kept as queued jobs that say the queue is unavailable, then run once Redis is back and
they are re-sent; a worker killed mid-job leaves the data exactly as before (each job is one transaction), the
job is marked failed by job_fail_stale and a retry runs it to success; running a task twice gives the same rows.
"""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from accounts.models import AccountAssignment, AllocationRun
from accounts.tasks import allocation_run_task
from conftest import wait_for
from core.models import Job
from core.services import (
    QUEUE_UNAVAILABLE_MESSAGE,
    STALE_MESSAGE,
    job_create,
    job_enqueue,
    job_fail_stale,
    job_resend_unsent,
    job_retry,
)
from performance.models import KpiSnapshot
from performance.periods import Period
from performance.services.kpis import kpi_recompute_periods
from performance.tasks import kpi_recompute_task
from tests.factories import OpportunityFactory, QuotaFactory, unit_grid_scenario
from tests.reliability.conftest import OwnWorker

PERIOD = Period(dt.date(2026, 1, 1), dt.date(2026, 3, 31))


def _checksum(table: str, columns: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT md5(coalesce(string_agg(concat_ws('|', {columns}), ',' ORDER BY id), '')) FROM {table}")
        return cursor.fetchone()[0]


def assignments_checksum() -> str:
    return _checksum("accounts_accountassignment", "id, scenario_id, account_id, territory_id, valid_from, valid_to, "
                                                   "source, rule_id, override_id, run_id, reason")


def snapshots_checksum() -> str:
    return _checksum("performance_kpisnapshot", "id, scenario_id, territory_id, rep_id, scope, period_start, "
                                                "metrics::text, flags::text, base_totals::text, computed_at")


def _misplaced_grid():
    """A grid scenario whose first account sits in the wrong territory, so an allocation run has work to do."""
    grid = unit_grid_scenario(columns=3, split=1)
    AccountAssignment.objects.filter(account=grid["accounts"][0]).update(territory=grid["right"])
    return grid


class RowLock:
    """Hold a row lock from another connection (as a long transaction would) until released."""

    def __init__(self, sql: str, params: list):
        self.sql, self.params = sql, params
        self.locked, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(self.sql, self.params)
                self.locked.set()
                self.release.wait(timeout=120)
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        assert self.locked.wait(timeout=10)
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.thread.join(timeout=30)


def _a_backend_waits_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0] > 0


def _no_other_backend_locks(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                       "WHERE c.relname = %s AND l.pid <> pg_backend_pid()", [table])
        return cursor.fetchone()[0] == 0


def _status(job) -> str:
    job.refresh_from_db()
    return job.status


# --- Redis down ---------------------------------------------------------------------------------------------------

def test_with_redis_down_pages_and_reads_work_and_commands_are_kept(own_worker, manager_user, client):
    redis = own_worker.redis
    grid = _misplaced_grid()
    scenario = grid["scenario"]
    before = assignments_checksum()
    api = APIClient()
    api.force_authenticate(manager_user)
    redis.stop()
    assert not redis.is_up()

    # pages and reads: sessions are in the database, the cache fails soft, throttling fails open
    assert client.post("/accounts/login/", {"username": "manager-user", "password": "pass-word-123"}).status_code \
        == 302
    for url in ["/territories/scenarios/", f"/territories/scenarios/{scenario.pk}/", "/accounts/list/",
                f"/workspace/territories/{grid['left'].pk}/", "/performance/"]:
        assert client.get(url).status_code == 200, url
    for url in ["/api/v1/accounts/", f"/api/v1/scenarios/{scenario.pk}/",
                f"/workspace/api/scenarios/{scenario.pk}/tree/", f"/workspace/api/scenarios/{scenario.pk}/balance/",
                f"/workspace/api/scenarios/{scenario.pk}/tiles/6/14/24.pbf"]:
        assert api.get(url).status_code == 200, url
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["checks"]["database"]["ok"] is True
    assert health.json()["checks"]["redis"]["ok"] is False

    # a command is accepted and kept, and says the queue is unavailable
    accepted = api.post("/api/v1/allocation/run/", {"scenario": scenario.pk}, format="json")
    assert accepted.status_code == 202
    job = Job.objects.get(pk=accepted.json()["job"])
    assert (job.status, job.message) == (Job.Status.QUEUED, QUEUE_UNAVAILABLE_MESSAGE)
    assert api.get(f"/api/v1/jobs/{job.pk}/").json()["message"] == QUEUE_UNAVAILABLE_MESSAGE
    assert assignments_checksum() == before

    # Redis back: re-sending runs it, once
    redis.start()
    assert job_resend_unsent() == 1
    wait_for(lambda: _status(job) == Job.Status.SUCCEEDED, timeout=90)
    assert job.result["changed"] == 1 and job.attempts == 1
    assert AccountAssignment.objects.get(account=grid["accounts"][0], valid_to__isnull=True).territory_id \
        == grid["left"].pk
    assert job_resend_unsent() == 0


# --- a worker killed mid-job --------------------------------------------------------------------------------------

def _kill_while_blocked(worker, lock: RowLock, send, table: str):
    with lock:
        send()
        wait_for(_a_backend_waits_on_a_lock, timeout=60)  # the job is inside its transaction, half done
        worker.kill()
    wait_for(lambda: _no_other_backend_locks(table), timeout=30)  # PostgreSQL rolled the dead client's work back


def test_worker_killed_during_an_allocation_leaves_the_assignments_as_they_were(own_worker):
    grid = _misplaced_grid()
    scenario, moved = grid["scenario"], grid["accounts"][0]
    before = assignments_checksum()
    job = job_create(kind=Job.Kind.ALLOCATION, params={"scenario": scenario.pk})
    lock = RowLock("SELECT 1 FROM accounts_accountassignment WHERE account_id = %s FOR UPDATE", [moved.pk])
    _kill_while_blocked(own_worker, lock, lambda: job_enqueue(job=job, task=allocation_run_task, args=(scenario.pk,)),
                        "accounts_accountassignment")

    assert assignments_checksum() == before
    assert not AllocationRun.objects.filter(scenario=scenario, is_preview=False).exists()
    assert _status(job) == Job.Status.RUNNING  # nobody told the job it died ...
    assert job_fail_stale(older_than_seconds=0) == 1  # ... until the beat task's check
    job.refresh_from_db()
    assert (job.status, job.message) == (Job.Status.FAILED, STALE_MESSAGE)

    second = OwnWorker(own_worker.redis, connection.settings_dict)
    second.start()
    try:
        job_retry(job=job)
        wait_for(lambda: _status(job) == Job.Status.SUCCEEDED, timeout=90)
    finally:
        second.stop()
    assert job.attempts == 2 and job.result["changed"] == 1
    assert assignments_checksum() != before
    current = AccountAssignment.objects.filter(scenario=scenario, valid_to__isnull=True)
    assert current.get(account=moved).territory_id == grid["left"].pk
    assert current.count() == len(grid["accounts"])


def _kpi_world():
    grid = unit_grid_scenario(columns=2, split=1)
    scenario = grid["scenario"]
    for territory in (grid["left"], grid["right"]):
        QuotaFactory(territory=territory, period_start=PERIOD.start, period_end=PERIOD.end)
    kpi_recompute_periods(scenario=scenario, periods=[PERIOD])
    assert KpiSnapshot.objects.filter(scenario=scenario).exists()
    # a won deal since: the next recompute has something to change
    OpportunityFactory(account=grid["accounts"][0], amount=Decimal("5000"), stage="won",
                       close_date=dt.date(2026, 2, 1), created_date=dt.date(2026, 1, 5))
    return grid


def test_worker_killed_during_a_kpi_recompute_leaves_the_snapshots_as_they_were(own_worker):
    grid = _kpi_world()
    scenario = grid["scenario"]
    before = snapshots_checksum()
    job = job_create(kind=Job.Kind.KPI_RECOMPUTE, params={"scenario": scenario.pk})
    snapshot = KpiSnapshot.objects.filter(scenario=scenario, territory=grid["left"]).first()
    lock = RowLock("SELECT 1 FROM performance_kpisnapshot WHERE id = %s FOR UPDATE", [snapshot.pk])
    args = (scenario.pk, PERIOD.start.isoformat(), PERIOD.end.isoformat())
    _kill_while_blocked(own_worker, lock, lambda: job_enqueue(job=job, task=kpi_recompute_task, args=args),
                        "performance_kpisnapshot")

    assert snapshots_checksum() == before
    assert job_fail_stale(older_than_seconds=0) == 1
    second = OwnWorker(own_worker.redis, connection.settings_dict)
    second.start()
    try:
        job_retry(job=_refreshed(job))
        wait_for(lambda: _status(job) == Job.Status.SUCCEEDED, timeout=90)
    finally:
        second.stop()
    assert snapshots_checksum() != before


def _refreshed(job):
    job.refresh_from_db()
    return job


# --- idempotent tasks ---------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_tasks_run_twice_give_the_same_rows():
    grid = _misplaced_grid()
    scenario = grid["scenario"]
    first = job_create(kind=Job.Kind.ALLOCATION)
    allocation_run_task(first.pk, scenario.pk)
    after_once = sorted(AccountAssignment.objects.values_list("id", "account_id", "territory_id", "valid_to"))
    allocation_run_task(first.pk, scenario.pk)  # the same message delivered again: the job already succeeded
    second = job_create(kind=Job.Kind.ALLOCATION)
    allocation_run_task(second.pk, scenario.pk)  # a second run of the same command: nothing left to change
    assert sorted(AccountAssignment.objects.values_list("id", "account_id", "territory_id", "valid_to")) \
        == after_once
    assert _refreshed(first).attempts == 1 and _refreshed(second).result["changed"] == 0

    for territory in (grid["left"], grid["right"]):
        QuotaFactory(territory=territory, period_start=PERIOD.start, period_end=PERIOD.end)
    args = (scenario.pk, PERIOD.start.isoformat(), PERIOD.end.isoformat())
    kpi_recompute_task(job_create(kind=Job.Kind.KPI_RECOMPUTE).pk, *args)
    snapshots = sorted(KpiSnapshot.objects.values_list("id", "territory_id", "rep_id", "scope", "metrics"))
    kpi_recompute_task(job_create(kind=Job.Kind.KPI_RECOMPUTE).pk, *args)
    assert sorted(KpiSnapshot.objects.values_list("id", "territory_id", "rep_id", "scope", "metrics")) == snapshots
