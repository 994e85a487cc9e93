"""Logging field activity; every logged activity queues the incremental KPI refresh of its account."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from performance.models import Activity
from performance.services.kpis import kpi_refresh_after_activity


@transaction.atomic
def activity_log(*, account, kind: str = Activity.Kind.VISIT, rep=None, occurred_at: dt.datetime | None = None,
                 duration_minutes: int = 30, notes: str = "", refresh_kpis: bool = True) -> Activity:
    """Record a visit, call, email or meeting; coverage KPIs follow once the transaction commits."""
    if occurred_at is not None and timezone.is_naive(occurred_at):
        raise ValueError("occurred_at must be timezone-aware")
    activity = Activity.objects.create(
        account=account, rep=rep, kind=kind, occurred_at=occurred_at or timezone.now(),
        duration_minutes=duration_minutes, notes=notes,
    )
    if refresh_kpis:
        kpi_refresh_after_activity(activity)
    return activity
