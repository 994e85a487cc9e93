"""KPI recompute: full, incremental and scheduled runs, each idempotent and safe to run concurrently."""

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.models import Job
from core.services import job_create, job_enqueue
from performance.models import KpiSnapshot, SharedAccountsCache
from performance.periods import (
    PERIOD_KINDS,
    Period,
    local_today,
    period_of,
    periods_current,
    periods_recent_months,
)
from performance.selectors import quota_targets
from performance.services import kpi_sql
from territories.models import Scenario
from territories.selectors import scenario_active

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], None]

DEFAULT_THRESHOLDS = {
    "attainment_floor": 80,  # percent of quota
    "coverage_floor": 60,  # percent of accounts seen within cadence
    "balance_tolerance": 20,  # percent deviation of potential from the mean of the level
    "workload_ceiling": 120,  # percent of the owner's capacity
}


def kpi_thresholds() -> dict[str, int]:
    return {**DEFAULT_THRESHOLDS, **getattr(settings, "PERFORMANCE_THRESHOLDS", {})}


@dataclass
class RecomputeResult:
    scenario_id: int
    period: Period
    rows: int
    changed: int
    incremental: bool
    seconds: float

    def as_dict(self) -> dict:
        return {"scenario_id": self.scenario_id, "period_start": self.period.start.isoformat(),
                "period_end": self.period.end.isoformat(), "rows": self.rows, "changed": self.changed,
                "incremental": self.incremental,
                "seconds": round(self.seconds, 3)}


def _lock_key(scenario_id: int, period: Period) -> str:
    return f"kpi:{scenario_id}:{period.start.isoformat()}:{period.end.isoformat()}"


def _longest_cadence_days() -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(visits_per_year) FROM reps_visitcadence WHERE visits_per_year > 0")
        (least_frequent,) = cursor.fetchone()
    return 365.0 / least_frequent if least_frequent else 0.0


def kpi_recompute(
    *, scenario: Scenario, period: Period, territory_ids: Iterable[int] | None = None, job: Job | None = None,
    user=None, progress: Progress | None = None,
) -> RecomputeResult:
    """Recompute and upsert every KPI snapshot of a scenario for one period, in one transaction.

    With `territory_ids`, only the accounts directly assigned to those territories are re-read; the other
    territories' totals come from their stored snapshots (falling back to a full run when there are none),
    then the hierarchy, reps, balance and flags are rebuilt from the totals, which is small work.
    A transaction-scoped advisory lock per scenario and period serialises concurrent runs of the same key.
    """
    started = timezone.now()
    report = progress or (lambda value, message="": None)
    territory_ids = sorted({int(pk) for pk in territory_ids}) if territory_ids is not None else None
    now = timezone.now()
    reference_at = min(period.end_at, now)
    reference_date = min(period.end, local_today())
    window_start_at = min(period.start_at, reference_at - dt.timedelta(days=_longest_cadence_days()))
    params = {
        "scenario_id": scenario.pk, "start": period.start, "end": period.end, "start_at": period.start_at,
        "end_at": period.end_at, "reference_at": reference_at, "reference_date": reference_date,
        "window_start_at": window_start_at, "territory_ids": territory_ids or [],
        "job_id": job.pk if job else None, "user_id": user.pk if user else None, **kpi_thresholds(),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [_lock_key(scenario.pk, period)])
        # Hash aggregates over a million accounts spill to disk at the default 4 MB.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(kpi_sql.DROP_TEMP_TABLES_SQL)
        incremental = territory_ids is not None and KpiSnapshot.objects.filter(
            scenario=scenario, scope=KpiSnapshot.Scope.TERRITORY, period_start=period.start, period_end=period.end
        ).exists()
        report(5, f"{period.label}: reading accounts, activities and opportunities")
        for statement in kpi_sql.direct_totals_sql(restricted=incremental):
            cursor.execute(statement, params)
        if incremental:
            cursor.execute(kpi_sql.STORED_DIRECT_TOTALS_SQL, params)
        report(60, f"{period.label}: rolling up the hierarchy and reps")
        cursor.execute(kpi_sql.TREE_SQL, params)
        cursor.execute(kpi_sql.OWNER_SQL, params)
        cursor.execute(kpi_sql.QUOTA_TABLE_SQL)
        _quota_rows_insert(cursor, scenario=scenario, period=period)
        # Temporary tables have no statistics until analysed; without them the joins below are planned blind (the
        # shared accounts' activities are read through the account index only when the planner knows they are few).
        pairs = _shared_accounts(cursor, scenario_id=scenario.pk)
        cursor.execute(kpi_sql.SHARED_TABLE_SQL, {"shared_accounts": [account for account, _ in pairs],
                                                  "shared_territories": [territory for _, territory in pairs]})
        cursor.execute("ANALYZE kpi_shared")
        cursor.execute(kpi_sql.SHARED_TOTALS_SQL, params)
        cursor.execute("ANALYZE kpi_direct, kpi_tree, kpi_owner, kpi_quota, kpi_shared_totals")
        cursor.execute(kpi_sql.DUPLICATES_SQL, params)
        for statement in (kpi_sql.NODE_SQL, kpi_sql.REP_SQL, kpi_sql.ROWS_SQL, kpi_sql.BALANCE_SQL,
                          kpi_sql.LEAF_BALANCE_SQL, kpi_sql.GINI_SQL, kpi_sql.DERIVED_SQL):
            cursor.execute(statement, params)
        report(85, f"{period.label}: saving snapshots")
        cursor.execute(kpi_sql.UPSERT_SQL, params)
        changed = cursor.rowcount
        cursor.execute("SELECT count(*) FROM kpi_derived")
        (rows,) = cursor.fetchone()
        cursor.execute(kpi_sql.DELETE_STALE_SQL, params)
    seconds = (timezone.now() - started).total_seconds()
    return RecomputeResult(scenario.pk, period, rows, changed, incremental, seconds)


def _shared_accounts(cursor, *, scenario_id: int) -> list[tuple[int, int]]:
    """(account, territory) of every account the scenario's territories hold more than once: found again only when
    the assignments in force changed since the last run found them (their digests say), else read back."""
    cursor.execute(kpi_sql.SHARED_FINGERPRINT_SQL, {"scenario_id": scenario_id})
    fingerprint = hashlib.sha256(repr(cursor.fetchall()).encode()).hexdigest()
    cached = SharedAccountsCache.objects.filter(scenario_id=scenario_id, fingerprint=fingerprint).first()
    if cached is not None:
        return [tuple(pair) for pair in cached.pairs]
    cursor.execute(kpi_sql.SHARED_FIND_SQL, {"scenario_id": scenario_id})
    pairs = cursor.fetchall()
    # an upsert: runs of other periods of the scenario may store the same pairs meanwhile
    cursor.execute(
        "INSERT INTO performance_sharedaccountscache (scenario_id, fingerprint, pairs, computed_at) "
        "VALUES (%s, %s, %s::jsonb, now()) ON CONFLICT (scenario_id) DO UPDATE "
        "SET fingerprint = EXCLUDED.fingerprint, pairs = EXCLUDED.pairs, computed_at = EXCLUDED.computed_at",
        [scenario_id, fingerprint, json.dumps([list(pair) for pair in pairs])],
    )
    return pairs


def _quota_rows_insert(cursor, *, scenario: Scenario, period: Period) -> None:
    """Rolled-up territory quotas and rep quotas for the period, into the run's kpi_quota table."""
    targets = quota_targets(scenario=scenario, period=period)
    rows = [("territory", pk, metric, value) for (pk, metric), value in targets.territories.items()]
    rows += [("rep", pk, metric, value) for (pk, metric), value in targets.reps.items()]
    if rows:
        scopes, ids, metrics, values = (list(column) for column in zip(*rows, strict=True))
        cursor.execute(
            "INSERT INTO kpi_quota SELECT * FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::numeric[])",
            [scopes, ids, metrics, values],
        )


def kpi_recompute_periods(
    *, scenario: Scenario, periods: list[Period], territory_ids: Iterable[int] | None = None, job: Job | None = None,
    user=None, progress: Progress | None = None,
) -> dict:
    """Recompute several periods, one transaction each, reporting progress across them."""
    report = progress or (lambda value, message="": None)
    territory_ids = list(territory_ids) if territory_ids is not None else None
    results = []
    for index, period in enumerate(periods):
        def scaled(value: float, message: str = "", index=index) -> None:
            report((index + value / 100) * 100 / len(periods), message)

        results.append(kpi_recompute(scenario=scenario, period=period, territory_ids=territory_ids, job=job,
                                     user=user, progress=scaled).as_dict())
    rows = sum(result["rows"] for result in results)
    return {"periods": results, "rows": rows,
            "message": f"{rows} snapshots over {len(results)} period(s) of {scenario.name}"}


def kpi_recompute_request(
    *, scenario: Scenario, period: Period, territory_ids: list[int] | None = None, user=None, idempotency_key: str = ""
) -> Job:
    """Create a KPI recompute job and queue its task once the transaction commits."""
    from performance.tasks import kpi_recompute_task

    params = {"scenario_id": scenario.pk, "period_start": period.start.isoformat(),
              "period_end": period.end.isoformat(), "territory_ids": territory_ids}
    job = job_create(kind=Job.Kind.KPI_RECOMPUTE, params=params, created_by=user, idempotency_key=idempotency_key)
    return job_enqueue(job=job, task=kpi_recompute_task,
                       args=(scenario.pk, params["period_start"], params["period_end"], territory_ids))


def kpi_history_request(*, scenario: Scenario, months: int = 12, user=None, idempotency_key: str = "") -> Job:
    """Create a job recomputing the last `months` months plus this quarter and year (for trends)."""
    from performance.tasks import kpi_recompute_history_task

    job = job_create(kind=Job.Kind.KPI_RECOMPUTE, params={"scenario_id": scenario.pk, "months": months},
                     created_by=user, idempotency_key=idempotency_key)
    return job_enqueue(job=job, task=kpi_recompute_history_task, args=(scenario.pk, months))


def kpi_history_periods(*, months: int = 12, today: dt.date | None = None) -> list[Period]:
    recent = periods_recent_months(count=months, until=today)
    return recent + [p for p in periods_current(today=today) if p not in recent]


def kpi_recompute_scheduled(*, job: Job, progress: Progress, today: dt.date | None = None) -> dict:
    """The nightly run: this month, quarter and year, last month, and any of the last 12 months never computed."""
    scenario = scenario_active()
    if scenario is None:
        return {"message": "No active scenario; nothing to compute.", "rows": 0}
    today = today or local_today()
    recent = periods_recent_months(count=12, until=today)
    computed = set(
        KpiSnapshot.objects.filter(scenario=scenario, scope=KpiSnapshot.Scope.SCENARIO)
        .values_list("period_start", "period_end")
    )
    periods = periods_current(today=today) + recent[-2:-1]
    periods += [p for p in recent if (p.start, p.end) not in computed and p not in periods]
    return kpi_recompute_periods(scenario=scenario, periods=periods, job=job, progress=progress)


def kpi_recompute_for_accounts(*, account_ids: Iterable[int], days: Iterable[dt.date | str] = (),
                               job: Job | None = None, progress: Progress | None = None) -> dict:
    """Incremental run after accounts changed: their territories in the active scenario, for this month, quarter
    and year, plus the already computed periods containing `days` (an activity logged for last month, say)."""
    scenario = scenario_active()
    if scenario is None:
        return {"message": "No active scenario; nothing to compute.", "rows": 0}
    from accounts.selectors import assignments_at

    territory_ids = sorted(set(
        assignments_at(scenario=scenario).filter(account_id__in=list(account_ids)).values_list("territory_id",
                                                                                             flat=True)
    ))
    periods = periods_current()
    computed = set(KpiSnapshot.objects.filter(scenario=scenario, scope=KpiSnapshot.Scope.SCENARIO)
                   .values_list("period_start", "period_end"))
    for day in days:
        day = day if isinstance(day, dt.date) else dt.date.fromisoformat(day)
        periods += [p for p in (period_of(kind, day) for kind in PERIOD_KINDS)
                    if p not in periods and (p.start, p.end) in computed]
    return kpi_recompute_periods(scenario=scenario, periods=periods, territory_ids=territory_ids, job=job,
                                 progress=progress)


def kpi_refresh_for_accounts(*, account_ids: Iterable[int], days: Iterable[dt.date] = (), reason: str = "",
                             user=None) -> Job | None:
    """Queue an incremental recompute for these accounts after the surrounding transaction commits.

    The hook other apps call after logging activities, importing accounts or opportunities, or moving accounts;
    `days` adds the (already computed) periods containing those days, e.g. an activity's date.
    """
    from performance.tasks import kpi_recompute_accounts_task

    account_ids = sorted({int(pk) for pk in account_ids})
    if not account_ids:
        return None
    day_texts = sorted({day.isoformat() for day in days})
    job = job_create(kind=Job.Kind.KPI_RECOMPUTE, created_by=user,
                     params={"account_ids": account_ids[:1000], "days": day_texts, "incremental": True,
                             "reason": reason})
    return job_enqueue(job=job, task=kpi_recompute_accounts_task, args=(account_ids, day_texts))


def kpi_refresh_after_activity(activity) -> Job | None:
    """Queue the recompute that makes a logged activity show in coverage within seconds."""
    day = timezone.localtime(activity.occurred_at, ZoneInfo(settings.TIME_ZONE)).date()
    return kpi_refresh_for_accounts(account_ids=[activity.account_id], days=[day], reason="activity logged")


def kpi_refresh_after_allocation(*, scenario: Scenario, user=None) -> Job | None:
    """After an allocation run accounts may have left territories too, so the current periods are recomputed in full."""
    if scenario.status != Scenario.Status.ACTIVE:
        return None
    return kpi_history_request(scenario=scenario, months=1, user=user)
