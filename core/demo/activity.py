"""A year of field activity and pipeline by the owning reps, and quotas for the current quarter and year."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from performance.models import Activity, Opportunity, Quota
from reps.models import Rep

from .accounts import GeneratedAccounts
from .constants import CADENCES, STATUSES
from .copy import copy_columns, fixed, integers, text_field

VISIT_HOURS_WITH_TRAVEL = 1.75
NOTES = {
    "visit": ("Quarterly business review", "On-site demo", "Introduced new contact", "Site walk-through",
              "Renewal discussion", ""),
    "call": ("Follow-up on proposal", "Check-in call", "Pricing questions", "Left voicemail", ""),
    "email": ("Sent case study", "Sent proposal", "Meeting recap", "Product update", ""),
    "meeting": ("Executive sponsor meeting", "Architecture workshop", "Success plan review", ""),
}
OPEN_STAGES = ("prospecting", "qualified", "proposal", "negotiation")


@dataclass
class Book:
    """The accounts (generation indexes) one rep works, and how they work them."""

    rep: Rep
    accounts: np.ndarray
    kinds: tuple[str, ...] = ("visit", "call", "email")
    opportunities_per_year: float = 140.0


def quarter_bounds(day: dt.date) -> tuple[dt.date, dt.date]:
    start = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    following = dt.date(start.year + (start.month + 2) // 12, (start.month + 2) % 12 + 1, 1)
    return start, following - dt.timedelta(days=1)


def _weekday_offsets(rng: np.random.Generator, size: int, days: int) -> np.ndarray:
    """Day offsets back from today (1..days) that fall on weekdays."""
    offsets = rng.integers(1, days + 1, size=size)
    weekday = (np.datetime64(dt.date.today()) - offsets.astype("timedelta64[D]")).astype("datetime64[D]")
    dow = (weekday.view("int64") - 4) % 7  # 0 = Monday
    return offsets + np.where(dow == 5, 1, 0) + np.where(dow == 6, 2, 0)


def activities_copy(*, accounts: GeneratedAccounts, account_ids: np.ndarray, books: list[Book], seed: int,
                    cadences: dict[str, tuple[int, int]] = CADENCES, progress=None) -> int:
    """Visits, calls, emails (and meetings for overlay reps) over the past year, more for higher tiers."""
    rng = np.random.default_rng([seed, 4])
    cadence = np.array([cadences[tier][0] for tier in "ABCD"], dtype=float)
    status_factor = np.array([{"customer": 1.0, "prospect": 0.6, "inactive": 0.2}[s] for s, _ in STATUSES])
    tier_index = {tier: i for i, tier in enumerate("ABCD")}
    parts = []
    for book in books:
        if not len(book.accounts):
            continue
        tiers = np.array([tier_index[t] for t in accounts.tier[book.accounts]])
        want = cadence[tiers] * status_factor[accounts.status[book.accounts]]
        capacity = book.rep.capacity_hours / VISIT_HOURS_WITH_TRAVEL
        demand = want.sum()
        for kind, reach, minutes in (("visit", 0.9, None), ("call", 1.5, (10, 30)), ("email", 2.0, (5, 6)),
                                     ("meeting", 0.5, (30, 90))):
            if kind not in book.kinds:
                continue
            scale = min(1.0, reach * capacity / demand) * (0.9 if kind == "visit" else 1.0)
            counts = rng.poisson(want * scale * rng.uniform(0.6, 1.4, size=len(want)))
            total = int(counts.sum())
            if not total:
                continue
            chosen = np.repeat(book.accounts, counts)
            if minutes is None:
                base = np.array([cadences[t][1] for t in "ABCD"])[np.repeat(tiers, counts)]
                duration = np.maximum(15, base + rng.integers(-15, 16, size=total))
            else:
                duration = rng.integers(minutes[0], minutes[1], size=total)
            offsets = _weekday_offsets(rng, total, 365)
            seconds = rng.integers(13 * 3600, 23 * 3600, size=total)  # 8:00 to 18:00 US Eastern, in UTC
            notes = np.array(NOTES[kind], dtype=object)[rng.integers(len(NOTES[kind]), size=total)]
            parts.append((chosen, book.rep.pk, kind, duration, offsets, seconds, notes))
    rows = sum(len(part[0]) for part in parts)
    today = np.datetime64(dt.date.today(), "s")
    account_id = np.concatenate([account_ids[p[0]] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    rep_id = np.concatenate([np.full(len(p[0]), p[1]) for p in parts]) if parts else np.zeros(0)
    kind = np.concatenate([np.full(len(p[0]), p[2], dtype=object) for p in parts]) if parts else np.zeros(0)
    duration = np.concatenate([p[3] for p in parts]) if parts else np.zeros(0)
    occurred = (today - np.concatenate([p[4] for p in parts]).astype("timedelta64[D]").astype("timedelta64[s]")
                + np.concatenate([p[5] for p in parts]).astype("timedelta64[s]")) if parts else np.zeros(0)
    notes = np.concatenate([p[6] for p in parts]) if parts else np.zeros(0)

    def render(start, stop):
        return (
            integers(account_id[start:stop]),
            integers(rep_id[start:stop]),
            kind[start:stop].tolist(),
            [f"{value}+00" for value in occurred[start:stop].astype(str).tolist()],
            integers(duration[start:stop]),
            text_field(notes[start:stop].tolist()),
        )

    copy_columns(table=Activity._meta.db_table,
                 columns=["account_id", "rep_id", "kind", "occurred_at", "duration_minutes", "notes"],
                 rows=rows, render=render, progress=progress)
    return rows


def opportunities_copy(*, accounts: GeneratedAccounts, account_ids: np.ndarray, books: list[Book], seed: int,
                       progress=None) -> tuple[int, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """Deals created over the past year, closing up to the end of next quarter; won, lost or still open.

    Returns the number of deals and, per rep id, the generation indexes of the won deals' accounts and their
    amounts (for quotas).
    """
    rng = np.random.default_rng([seed, 5])
    today = dt.date.today()
    _, quarter_end = quarter_bounds(today)
    _, next_quarter_end = quarter_bounds(quarter_end + dt.timedelta(days=1))
    horizon = (next_quarter_end - today).days
    cycle_median = np.array([35.0, 70.0, 120.0])  # small business, mid-market, enterprise
    columns = {key: [] for key in ("account", "rep", "product", "stage", "amount", "created", "close", "name")}
    won: dict[int, list] = {}
    for book in books:
        if not len(book.accounts):
            continue
        count = int(rng.poisson(min(book.opportunities_per_year, 0.5 * len(book.accounts) + 1)))
        weight = accounts.potential[book.accounts] ** 0.8
        chosen = book.accounts[rng.choice(len(book.accounts), size=count, p=weight / weight.sum())]
        created = rng.integers(0, 365, size=count)  # days ago
        noise = np.exp(0.5 * rng.standard_normal(count))
        cycle = np.maximum(7, np.rint(cycle_median[accounts.segment[chosen]] * noise))
        close_in = cycle - created  # days from today
        closed = close_in <= 0
        customer = accounts.status[chosen] == 0
        is_won = closed & (rng.random(count) < np.where(customer, 0.4, 0.22))
        progress_share = np.clip(created / cycle, 0, 0.999)
        stage = np.where(closed, np.where(is_won, "won", "lost"),
                         np.array(OPEN_STAGES, dtype=object)[(progress_share * 4).astype(int)])
        late = ~closed & (close_in > horizon)
        close_in = np.where(late, rng.integers(1, max(horizon, 2), size=count), close_in)
        amount = np.maximum(500.0, np.round(accounts.potential[chosen] * rng.uniform(0.05, 0.35, size=count), -2))
        for i, index in enumerate(chosen.tolist()):
            products = accounts.products[index]
            product = products[int(rng.integers(len(products)))]
            kind = "renewal" if customer[i] and rng.random() < 0.3 else "expansion" if customer[i] else "new business"
            columns["name"].append(f"{accounts.name[index]} – {product} {kind}")
            columns["product"].append(product)
        columns["account"].append(chosen)
        columns["rep"].append(np.full(count, book.rep.pk))
        columns["stage"].append(stage)
        columns["amount"].append(amount)
        columns["created"].append(created)
        columns["close"].append(close_in)
        won.setdefault(book.rep.pk, []).append((chosen[is_won], amount[is_won]))
    account = np.concatenate(columns["account"]) if columns["account"] else np.zeros(0, dtype=np.int64)
    rows = len(account)
    rep = np.concatenate(columns["rep"]) if rows else np.zeros(0)
    stage = np.concatenate(columns["stage"]) if rows else np.zeros(0, dtype=object)
    amount = np.concatenate(columns["amount"]) if rows else np.zeros(0)
    base = np.datetime64(today, "D")
    created = (base - np.concatenate(columns["created"]).astype("timedelta64[D]")).astype(str) if rows else []
    close = (base + np.concatenate(columns["close"]).astype("timedelta64[D]")).astype(str) if rows else []
    names = text_field([name[:200] for name in columns["name"]])

    def render(start, stop):
        return (
            [f"OPP-{i + 1:07d}" for i in range(start, stop)],
            integers(account_ids[account[start:stop]]),
            integers(rep[start:stop]),
            names[start:stop],
            columns["product"][start:stop],
            stage[start:stop].tolist(),
            fixed(amount[start:stop]),
            created[start:stop].tolist(),
            close[start:stop].tolist(),
        )

    copy_columns(table=Opportunity._meta.db_table,
                 columns=["external_id", "account_id", "rep_id", "name", "product", "stage", "amount",
                          "created_date", "close_date"],
                 rows=rows, render=render, progress=progress)
    return rows, {
        rep_id: (np.concatenate([a for a, _ in parts]), np.concatenate([m for _, m in parts]))
        for rep_id, parts in won.items()
    }


def quotas_create(*, leaf_territories: list, account_leaf: np.ndarray, books: list[Book],
                  won: dict[int, tuple[np.ndarray, np.ndarray]], accounts: GeneratedAccounts, seed: int) -> int:
    """Revenue quotas per leaf territory and rep, pipeline per territory, visits per rep: this quarter and year.

    Targets sit a little above what was won over the last twelve months, so attainment is spread around 100 %.
    """
    rng = np.random.default_rng([seed, 6])
    today = dt.date.today()
    quarter = quarter_bounds(today)
    year = (dt.date(today.year, 1, 1), dt.date(today.year, 12, 31))
    won_by_leaf = np.zeros(len(leaf_territories))
    for indexes, amounts in won.values():
        leaf = account_leaf[indexes]
        np.add.at(won_by_leaf, leaf[leaf >= 0], amounts[leaf >= 0])
    potential_by_leaf = np.zeros(len(leaf_territories))
    np.add.at(potential_by_leaf, account_leaf[account_leaf >= 0], accounts.potential[account_leaf >= 0])
    yearly = np.maximum(won_by_leaf, 0.02 * potential_by_leaf) * rng.uniform(1.0, 1.3, size=len(leaf_territories))
    yearly = np.maximum(10_000.0, np.round(yearly, -3))
    quotas = []
    for territory, target in zip(leaf_territories, yearly.tolist(), strict=True):
        quotas += [
            Quota(territory=territory, metric=Quota.Metric.REVENUE, period_start=year[0], period_end=year[1],
                  target=Decimal(f"{target:.2f}")),
            Quota(territory=territory, metric=Quota.Metric.REVENUE, period_start=quarter[0], period_end=quarter[1],
                  target=Decimal(f"{round(target / 4, -2):.2f}")),
            Quota(territory=territory, metric=Quota.Metric.PIPELINE, period_start=quarter[0], period_end=quarter[1],
                  target=Decimal(f"{round(target * 0.75, -2):.2f}")),
        ]
    for book in books:
        indexes, amounts = won.get(book.rep.pk, (np.zeros(0, dtype=np.int64), np.zeros(0)))
        target = max(10_000.0, round(float(amounts.sum()) * float(rng.uniform(1.0, 1.3)), -3))
        visits = round(book.rep.capacity_hours / VISIT_HOURS_WITH_TRAVEL * 0.9)
        quotas += [
            Quota(rep=book.rep, metric=Quota.Metric.REVENUE, period_start=year[0], period_end=year[1],
                  target=Decimal(f"{target:.2f}")),
            Quota(rep=book.rep, metric=Quota.Metric.REVENUE, period_start=quarter[0], period_end=quarter[1],
                  target=Decimal(f"{round(target / 4, -2):.2f}")),
            Quota(rep=book.rep, metric=Quota.Metric.VISITS, period_start=year[0], period_end=year[1],
                  target=Decimal(visits)),
            Quota(rep=book.rep, metric=Quota.Metric.VISITS, period_start=quarter[0], period_end=quarter[1],
                  target=Decimal(round(visits / 4))),
        ]
    Quota.objects.bulk_create(quotas, batch_size=1000)
    return len(quotas)
