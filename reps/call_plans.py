"""A rep's call plan for a week: the accounts that are due, spread over the days and routed from home.

Priority of an account = tier weight x urgency + an open-opportunity bonus, where urgency is 1 + how many
cadence intervals it is overdue (capped at 2 more), 3 when never visited, 1 when it falls due during the
week, 0 otherwise. Accounts with urgency 0 and no open opportunity are not candidates. The week's capacity is
the rep's yearly hours over 46 working weeks, five days a week.
"""

import datetime as dt
import time
import zoneinfo
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.utils import timezone

from accounts.models import Account
from reps.coverage import account_attention_annotate, rep_book
from reps.models import Rep
from reps.routing import AVERAGE_SPEED_KMH, ROAD_FACTOR, haversine_matrix, plan_week

TIER_WEIGHT = {"A": 4.0, "B": 3.0, "C": 2.0, "D": 1.0}
WORKING_WEEKS = 46
WORKING_DAYS = 5
DAY_START = dt.time(8, 30)
OPEN_OPPORTUNITY_BONUS = 1.5


@dataclass
class CallPlanVisit:
    """One planned visit: which account, when, how far from the previous stop, and why it is in the plan."""

    account: Account
    order: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    drive_km: float
    reason: str
    priority: float


@dataclass
class CallPlanDay:
    """A day of visits in route order, with the route (home, stops, home) as [lon, lat] points."""

    date: dt.date
    visits: list[CallPlanVisit]
    km: float
    drive_minutes: float
    visit_minutes: float
    route: list[tuple[float, float]]


@dataclass
class CallPlan:
    """A rep's week: planned days, due accounts that did not fit, and the capacity it was planned against."""

    rep: Rep
    week_start: dt.date
    days: list[CallPlanDay]
    unscheduled: list[Account] = field(default_factory=list)
    day_capacity_minutes: float = 0.0
    candidates: int = 0
    computed_seconds: float = 0.0
    message: str = ""

    @property
    def km(self) -> float:
        return round(sum(day.km for day in self.days), 1)

    @property
    def visit_count(self) -> int:
        return sum(len(day.visits) for day in self.days)


def week_start_for(day: dt.date) -> dt.date:
    """The Monday of the week a date falls in."""
    return day - dt.timedelta(days=day.weekday())


def _reason(account) -> tuple[float, str]:
    """Urgency and the words for it."""
    if account.cadence_days is None:
        return 0.0, ""
    if account.last_visit_at is None:
        return 3.0, "never visited"
    overdue = account.days_overdue or 0.0
    if overdue > 0:
        return 1.0 + min(overdue / float(account.cadence_days), 2.0), f"overdue by {int(overdue)} days"
    return 0.0, ""


def call_plan_build(
    *, rep: Rep, week_start: dt.date, max_stops_per_day: int | None = None, at: dt.datetime | None = None
) -> CallPlan:
    """Plan a rep's week (Monday to Friday starting at week_start's Monday) over their book."""
    started = time.perf_counter()
    week_start = week_start_for(week_start)
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    week_begins = dt.datetime.combine(week_start, dt.time.min, tzinfo=zone)
    week_ends = week_begins + dt.timedelta(days=WORKING_DAYS)
    at = at or max(timezone.now(), week_begins)
    day_minutes = rep.capacity_hours * 60.0 / WORKING_WEEKS / WORKING_DAYS
    plan = CallPlan(rep=rep, week_start=week_start, days=[], day_capacity_minutes=round(day_minutes, 1))
    if rep.home_location is None:
        plan.message = "This rep has no home location, so no route can be planned."
        return plan

    accounts = account_attention_annotate(rep_book(rep=rep).filter(location__isnull=False), at=at)
    candidates, priorities, reasons = [], [], []
    for account in accounts:
        urgency, reason = _reason(account)
        if urgency == 0 and account.cadence_days is not None and account.due_at is not None \
                and account.due_at < week_ends:
            urgency, reason = 1.0, f"due {timezone.localtime(account.due_at, zone):%a %d %b}"
        bonus = OPEN_OPPORTUNITY_BONUS if account.open_opportunities else 0.0
        if urgency == 0 and bonus == 0:
            continue
        if bonus:
            words = f"{account.open_opportunities} open opportunit{'y' if account.open_opportunities == 1 else 'ies'}"
            reason = f"{reason}; {words}" if reason else words
        candidates.append(account)
        priorities.append(TIER_WEIGHT.get(account.tier, 1.0) * urgency + bonus)
        reasons.append(reason)
    plan.candidates = len(candidates)
    home = (rep.home_location.x, rep.home_location.y)
    stops = np.array([(a.location.x, a.location.y) for a in candidates], dtype=float).reshape(-1, 2)
    minutes = np.array([float(a.visit_minutes or 60) for a in candidates], dtype=float)
    week = plan_week(home=home, stops=stops, visit_minutes=minutes, priority=np.array(priorities, dtype=float),
                     day_minutes=day_minutes, days=WORKING_DAYS, max_stops_per_day=max_stops_per_day)
    for offset, day in enumerate(week.days):
        date = week_start + dt.timedelta(days=offset)
        clock = dt.datetime.combine(date, DAY_START, tzinfo=zone)
        previous = home
        visits = []
        for order, index in enumerate(day.stops, start=1):
            account = candidates[index]
            point = (account.location.x, account.location.y)
            km = float(haversine_matrix(np.array([previous]), np.array([point]))[0, 0])
            clock += dt.timedelta(minutes=km * 60.0 * ROAD_FACTOR / AVERAGE_SPEED_KMH)
            ends = clock + dt.timedelta(minutes=float(minutes[index]))
            visits.append(CallPlanVisit(account=account, order=order, starts_at=clock, ends_at=ends,
                                        drive_km=round(km, 2), reason=reasons[index],
                                        priority=round(float(priorities[index]), 2)))
            clock, previous = ends, point
        route = [home, *[(v.account.location.x, v.account.location.y) for v in visits], home] if visits else []
        plan.days.append(CallPlanDay(date=date, visits=visits, km=round(day.km, 1),
                                     drive_minutes=day.drive_minutes, visit_minutes=day.visit_minutes, route=route))
    plan.unscheduled = [candidates[index] for index in week.unscheduled]
    plan.computed_seconds = round(time.perf_counter() - started, 3)
    return plan


# ---------------------------------------------------------------------------------------------------- iCalendar
def _ics_escape(text: str) -> str:
    """TEXT value escaping (RFC 5545 3.3.11)."""
    return (text or "").replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n") \
        .replace("\n", "\\n")


def _ics_fold(line: str) -> str:
    """Fold a content line at 75 octets, continuing with CRLF and a space (RFC 5545 3.1)."""
    encoded = line.encode("utf-8")
    if len(encoded) <= 75:
        return line
    parts, current, size = [], "", 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > (75 if not parts else 74):
            parts.append(current)
            current, size = "", 0
        current += char
        size += width
    parts.append(current)
    return "\r\n ".join(parts)


def _ics_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def call_plan_ics(plan: CallPlan, *, host: str = "territory-manager") -> str:
    """The plan as an iCalendar (RFC 5545) file: one VEVENT per visit, times in UTC."""
    stamp = _ics_time(timezone.now())
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Territory Manager//Call plans//EN", "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH", f"X-WR-CALNAME:{_ics_escape(f'Call plan {plan.rep.name} week of {plan.week_start}')}",
    ]
    for day in plan.days:
        for visit in day.visits:
            account = visit.account
            address = ", ".join(part for part in (account.street, account.city, account.state, account.postal_code)
                                if part)
            lines += [
                "BEGIN:VEVENT",
                f"UID:call-plan-{plan.rep.pk}-{plan.week_start:%Y%m%d}-{account.pk}@{host}",
                f"DTSTAMP:{stamp}",
                f"DTSTART:{_ics_time(visit.starts_at)}",
                f"DTEND:{_ics_time(visit.ends_at)}",
                f"SUMMARY:{_ics_escape(f'Visit {account.name} (tier {account.tier})')}",
                f"LOCATION:{_ics_escape(address or account.name)}",
                f"GEO:{account.location.y:.6f};{account.location.x:.6f}",
                f"DESCRIPTION:{_ics_escape(f'Stop {visit.order} of {len(day.visits)}. {visit.reason}.')}",
                "TRANSP:OPAQUE",
                "END:VEVENT",
            ]
    lines.append("END:VCALENDAR")
    return "".join(_ics_fold(line) + "\r\n" for line in lines)
