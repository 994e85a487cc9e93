"""Reporting periods (month, quarter, year) as explicit date ranges cut in settings.TIME_ZONE."""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

MONTH, QUARTER, YEAR = "month", "quarter", "year"
PERIOD_KINDS = (MONTH, QUARTER, YEAR)


@dataclass(frozen=True)
class Period:
    """An inclusive range of calendar days; `start_at`/`end_at` are its aware bounds (end exclusive)."""

    start: dt.date
    end: dt.date

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(settings.TIME_ZONE)

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time.min, tzinfo=self.zone)

    @property
    def end_at(self) -> dt.datetime:
        """Midnight after the last day, local time: activities are in the period when start_at <= t < end_at."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=self.zone)

    @property
    def kind(self) -> str:
        if self == period_of(MONTH, self.start):
            return MONTH
        if self == period_of(QUARTER, self.start):
            return QUARTER
        if self == period_of(YEAR, self.start):
            return YEAR
        return "custom"

    @property
    def label(self) -> str:
        kind = self.kind
        if kind == MONTH:
            return f"{self.start:%b %Y}"
        if kind == QUARTER:
            return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"
        if kind == YEAR:
            return str(self.start.year)
        return f"{self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}"


def local_today() -> dt.date:
    return timezone.now().astimezone(ZoneInfo(settings.TIME_ZONE)).date()


def period_of(kind: str, day: dt.date) -> Period:
    """The month, quarter or year containing `day`."""
    if kind == MONTH:
        start = day.replace(day=1)
        following = (start + dt.timedelta(days=32)).replace(day=1)
    elif kind == QUARTER:
        start = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        following = (start + dt.timedelta(days=95)).replace(day=1)
    elif kind == YEAR:
        start = dt.date(day.year, 1, 1)
        following = dt.date(day.year + 1, 1, 1)
    else:
        raise ValueError(f"unknown period kind {kind!r}; use one of {', '.join(PERIOD_KINDS)}")
    return Period(start, following - dt.timedelta(days=1))


def periods_recent_months(*, count: int, until: dt.date | None = None) -> list[Period]:
    """The `count` calendar months ending with the one containing `until` (today), oldest first."""
    month = period_of(MONTH, until or local_today())
    months = [month]
    for _ in range(count - 1):
        month = period_of(MONTH, month.start - dt.timedelta(days=1))
        months.append(month)
    return list(reversed(months))


def periods_current(*, today: dt.date | None = None) -> list[Period]:
    """The periods kept fresh by incremental and nightly runs: this month, quarter and year."""
    today = today or local_today()
    return [period_of(kind, today) for kind in PERIOD_KINDS]


def period_parse(*, start: str | dt.date, end: str | dt.date) -> Period:
    start_date = start if isinstance(start, dt.date) else dt.date.fromisoformat(start)
    end_date = end if isinstance(end, dt.date) else dt.date.fromisoformat(end)
    if end_date < start_date:
        raise ValueError("the period ends before it starts")
    return Period(start_date, end_date)
