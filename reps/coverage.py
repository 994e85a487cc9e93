"""Read-side queries about books of accounts, visit coverage against cadence, and workload per territory.

A visit is an activity of kind visit or meeting (calls and e-mails do not count toward a visit cadence).
An account of a tier with V visits a year is *within cadence* when its last visit is less than 365/V days
old, *overdue* when it is older, *never visited* when it has none. Tiers without a cadence are not due.
Aggregates are single SQL statements over the scenario's current account assignments.
"""

import datetime as dt
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.db import connection, connections, transaction
from django.db.models import DecimalField, F, FloatField, Func, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Account, AccountAssignment
from accounts.selectors import account_ids_in_territories, accounts_in_territories
from performance.models import AccountActivitySummary, Activity, Opportunity
from reps.models import Rep, RepAssignment, VisitCadence
from reps.routing import AVERAGE_SPEED_KMH, ROAD_FACTOR
from reps.selectors import territory_ids_covered_by_reps, territory_ids_for_user, user_is_admin
from territories.models import Scenario, Territory
from territories.selectors import scenario_active

VISIT_KINDS = (Activity.Kind.VISIT.value, Activity.Kind.MEETING.value)
# The account columns a book row shows (reps.api.serializers.BookAccountSerializer); the rest stay in the table.
BOOK_ACCOUNT_COLUMNS = ("id", "external_id", "name", "city", "postal_code", "industry", "tier", "potential")
# Workload estimate: each visit costs the drive from the territory's account centre to the account.
DEFAULT_CAPACITY_HOURS = 1400.0

_TABLES = {
    "account": Account._meta.db_table,
    "assignment": AccountAssignment._meta.db_table,
    "activity": Activity._meta.db_table,
    "opportunity": Opportunity._meta.db_table,
    "cadence": VisitCadence._meta.db_table,
    "rep": Rep._meta.db_table,
    "rep_assignment": RepAssignment._meta.db_table,
    "territory": Territory._meta.db_table,
    "summary": AccountActivitySummary._meta.db_table,
}


def _sql(sql: str, params) -> RawSQL:
    # Only table names from model metadata are formatted into the SQL; every value is a bound parameter.
    return RawSQL(sql, params)  # noqa: S611


# ---------------------------------------------------------------------------------------------- books of accounts
def account_list_for_user(*, user, scenario: Scenario | None = None) -> QuerySet[Account]:
    """The accounts a user may see: all for an admin, those of their part of the hierarchy otherwise.

    Reps and managers see accounts through the active scenario's current assignments; a rep never sees an
    account outside the territories they cover.
    """
    account_ids = account_ids_for_user(user=user, scenario=scenario)
    if account_ids is None:
        return Account.objects.all()
    if account_ids.query.is_empty():
        return Account.objects.none()
    return Account.objects.filter(pk__in=account_ids)


def account_ids_for_user(*, user, scenario: Scenario | None = None) -> QuerySet | None:
    """The ids of the accounts account_list_for_user gives (a values queryset, for a subquery); None for all."""
    if user_is_admin(user):
        return None
    scenario = scenario or scenario_active()
    if scenario is None:
        return AccountAssignment.objects.none().values("account_id")
    territory_ids = territory_ids_for_user(user=user) or set()
    return account_ids_in_territories(scenario=scenario, territory_ids=list(territory_ids))


def rep_book(*, rep: Rep, scenario: Scenario | None = None) -> QuerySet[Account]:
    """The accounts of the territories a rep covers today in the (active) scenario."""
    scenario = scenario or scenario_active()
    if scenario is None:
        return Account.objects.none()
    territory_ids = territory_ids_covered_by_reps(rep_ids=[rep.pk])
    return accounts_in_territories(scenario=scenario, territory_ids=list(territory_ids))


# The attention expressions, over the last visit `lv`, the cadence in days `cd` and the open opportunities of an
# account, and the due date computed from the first two: the annotations below supply them per row (subqueries), the
# book's pages (_BOOK_PAGE_SQL) from columns computed once per row, so both evaluate the very same formulas.
_SUMMARY_OPEN = f'"{_TABLES["summary"]}".open_opportunities'


def _due_sql(lv: str = "v.lv", cd: str = "k.cd") -> str:
    return f"({lv} + {cd} * interval '1 day')"


def _days_overdue_sql(due: str = _due_sql()) -> str:
    """Takes `at` as its parameter."""
    return f"(extract(epoch FROM (%s - {due})) / 86400.0)::float8"


def _rank_sql(
    due: str = _due_sql(), cd: str = "k.cd", lv: str = "v.lv", open_opportunities: str = _SUMMARY_OPEN
) -> str:
    """Takes `at` and `at` as its parameters."""
    return f"""CASE
        WHEN {cd} IS NOT NULL AND ({lv} IS NULL OR {due} < %s) THEN 0
        WHEN {cd} IS NOT NULL AND {due} < %s + interval '7 days' THEN 1
        WHEN coalesce({open_opportunities}, 0) > 0 THEN 2
        WHEN {cd} IS NOT NULL THEN 3
        ELSE 4 END"""


_CADENCE_DAYS_SQL = "(365.0 / NULLIF(c.visits_per_year, 0))::float8"


def _last_visit_sql() -> str:
    account, summary = f'"{_TABLES["account"]}"', f'"{_TABLES["summary"]}"'
    # Only when the latest visit logged is after `at` (a future-dated visit, or a question about the past) is the
    # activity table asked.
    return (
        f"(CASE WHEN {summary}.last_visit_at IS NULL OR {summary}.last_visit_at <= %s THEN {summary}.last_visit_at "
        f'ELSE (SELECT max(act.occurred_at) FROM {_TABLES["activity"]} act WHERE act.account_id = {account}.id '
        f"AND act.kind = ANY(%s) AND act.occurred_at <= %s) END)"
    )


def account_attention_annotate(queryset: QuerySet[Account], *, at: dt.datetime | None = None) -> QuerySet[Account]:
    """Add last visit, cadence, due date, days overdue, open opportunities and an attention order.

    attention_rank: 0 overdue or never visited, 1 due within 7 days, 2 open opportunities, 3 the rest,
    4 no cadence and nothing open.
    """
    at = at or timezone.now()
    account = f'"{_TABLES["account"]}"'
    # The trigger-kept summary joins in once (a LEFT JOIN, aliased by its table name, added by these
    # annotations); the raw expressions below read its columns.
    queryset = queryset.annotate(
        open_opportunities=Coalesce(F("activity_summary__open_opportunities"), 0),
        open_amount=Coalesce(F("activity_summary__open_amount"), Value(Decimal(0)), output_field=DecimalField()),
        next_close_date=F("activity_summary__next_close_date"),
    )
    last_visit = _last_visit_sql()
    last_visit_params = (at, list(VISIT_KINDS), at)
    cadence_days = f'(SELECT {_CADENCE_DAYS_SQL} FROM {_TABLES["cadence"]} c WHERE c.tier = {account}.tier)'
    minutes = f'(SELECT c.minutes_per_visit FROM {_TABLES["cadence"]} c WHERE c.tier = {account}.tier)'
    # The expressions that need the last visit and the cadence more than once read them from one row (lv, cd).
    # tier is unique in the cadence table, so the LEFT JOIN gives the scalar subquery's NULL-when-missing value.
    visit_row = (
        f"FROM (SELECT {last_visit} AS lv) v "
        f'LEFT JOIN (SELECT {_CADENCE_DAYS_SQL} AS cd FROM {_TABLES["cadence"]} c '
        f"WHERE c.tier = {account}.tier) k ON true"
    )
    return queryset.annotate(
        last_visit_at=_sql(last_visit, last_visit_params),
        cadence_days=_sql(cadence_days, ()),
        visit_minutes=_sql(minutes, ()),
        due_at=_sql(f"(SELECT {_due_sql()} {visit_row})", last_visit_params),
        days_overdue=_sql(f"(SELECT {_days_overdue_sql()} {visit_row})", (at, *last_visit_params)),
        attention_rank=_sql(f"(SELECT {_rank_sql()} {visit_row})", (at, at, *last_visit_params)),
    )


def _book_annotated(book: QuerySet[Account], *, at: dt.datetime) -> QuerySet[Account]:
    accounts = account_attention_annotate(book, at=at)
    accounts = accounts.only(*BOOK_ACCOUNT_COLUMNS).annotate(
        longitude=Func("location", function="ST_X", output_field=FloatField()),
        latitude=Func("location", function="ST_Y", output_field=FloatField()),
    )
    return account_attention_order(accounts)


def account_book_list(*, user, at: dt.datetime | None = None) -> QuerySet[Account]:
    """A user's book as the book API shows it: attention-annotated and -ordered, only the columns it shows, and the
    location as `longitude`/`latitude` floats (a page of a hundred accounts builds no GEOS point)."""
    return _book_annotated(account_list_for_user(user=user), at=at or timezone.now())


def account_attention_order(queryset: QuerySet[Account]) -> QuerySet[Account]:
    """What needs attention first: overdue or never visited (most overdue first), then open pipeline."""
    return queryset.order_by(
        "attention_rank", F("days_overdue").desc(nulls_first=True), "-open_amount", "name", "pk"
    )


# A page of the book in its order (account_attention_order), with the fields the book shows and the book's size, in
# one statement. The summary and the cadence are joined once (the annotations look the cadence up in a subquery per
# row and expression: most of the time of a large book's page), the last visit, the cadence and the due date are
# computed once per row in `b` (OFFSET 0 keeps the planner from copying them into each expression of the order), and
# only the keys of the order reach the sort; the page's own accounts are read after it. The expressions are
# account_attention_annotate's. {columns}: the book's account columns (a.), {scope}: the condition on the accounts.
_BOOK_PAGE_SQL = f"""
    SELECT {{columns}}, ST_X(a.location), ST_Y(a.location), p.lv, p.cd, p.minutes, p.due, p.days_overdue,
           p.attention_rank, coalesce(p.open_opportunities, 0), p.open_amount, p.next_close_date, p.total
    FROM (
        SELECT b.id, b.name, b.lv, b.cd, b.minutes, b.due, b.open_opportunities, b.open_amount, b.next_close_date,
               {_rank_sql("b.due", "b.cd", "b.lv", "b.open_opportunities")} AS attention_rank,
               {_days_overdue_sql("b.due")} AS days_overdue, count(*) OVER () AS total
        FROM (
            SELECT "{_TABLES["account"]}".id, "{_TABLES["account"]}".name, "{_TABLES["summary"]}".open_opportunities,
                   coalesce("{_TABLES["summary"]}".open_amount, 0) AS open_amount,
                   "{_TABLES["summary"]}".next_close_date, c.minutes_per_visit AS minutes, v.lv, k.cd,
                   {_due_sql()} AS due
            FROM "{_TABLES["account"]}"
            LEFT JOIN "{_TABLES["summary"]}" ON "{_TABLES["summary"]}".account_id = "{_TABLES["account"]}".id
            LEFT JOIN "{_TABLES["cadence"]}" c ON c.tier = "{_TABLES["account"]}".tier
            CROSS JOIN LATERAL (SELECT {{last_visit}} AS lv) v
            CROSS JOIN LATERAL (SELECT {_CADENCE_DAYS_SQL} AS cd) k
            WHERE {{scope}}
            OFFSET 0
        ) b
        ORDER BY attention_rank, days_overdue DESC NULLS FIRST, b.open_amount DESC, b.name, b.id
        LIMIT %s OFFSET %s
    ) p
    JOIN "{_TABLES["account"]}" a ON a.id = p.id
    ORDER BY p.attention_rank, p.days_overdue DESC NULLS FIRST, p.open_amount DESC, p.name, p.id
"""
# The annotations of account_book_list, in the order of the statement's columns after the account's.
_BOOK_PAGE_ANNOTATIONS = ("longitude", "latitude", "last_visit_at", "cadence_days", "visit_minutes", "due_at",
                          "days_overdue", "attention_rank", "open_opportunities", "open_amount", "next_close_date")
# For the book's page alone: JIT compiles the order's expressions for longer than the statement runs (a cost estimate
# over the threshold, from the never-run fallback for future-dated visits); parallel workers only contend with the
# other requests on a busy server; and with the tables in memory an index probe per account costs about a sequential
# page, which the default page costs do not see (a book of 10,000 accounts would read all the accounts instead).
_BOOK_RANKING_SETTINGS = (
    "SELECT set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true), "
    "set_config('random_page_cost', '1.1', true)"
)


class RankedBook:
    """A user's book paged as account_book_list orders it (same rows, order and fields), a page and the book's size
    in one statement (_BOOK_PAGE_SQL) that ranks the book on the keys of its order alone. Asked of the annotated
    queryset, a page of a book of 24,000 accounts took most of a second.

    Pages through `page(offset, limit)`, or as a sequence (count() and slices) for django's Paginator.
    """

    def __init__(self, *, user, at: dt.datetime | None = None):
        self.at = at or timezone.now()
        self.account_ids = account_ids_for_user(user=user)  # None: every account

    def _scope(self, *, located: bool) -> tuple[str, tuple]:
        located = f' AND "{_TABLES["account"]}".location IS NOT NULL' if located else ""
        if self.account_ids is None:
            return f"true{located}", ()
        sql, params = self.account_ids.order_by().query.get_compiler(self.account_ids.db).as_sql()
        return f'"{_TABLES["account"]}".id IN ({sql}){located}', tuple(params)

    @property
    def db(self) -> str:
        return Account.objects.all().db

    def page(self, offset: int, limit: int, *, located: bool = False) -> tuple[list[Account], int | None]:
        """The accounts of a page, annotated as account_book_list annotates them and in its order, and the book's
        size (None when the page is past the end); `located`: only the accounts with a location (a map's markers)."""
        if self.account_ids is not None and self.account_ids.query.is_empty():
            return [], 0
        scope, scope_params = self._scope(located=located)
        fields = [field for field in Account._meta.concrete_fields if field.attname in BOOK_ACCOUNT_COLUMNS]
        sql = _BOOK_PAGE_SQL.format(columns=", ".join(f'a."{field.column}"' for field in fields),
                                    last_visit=_last_visit_sql(), scope=scope)
        at, db = self.at, self.db
        params = (at, at, at, at, list(VISIT_KINDS), at, *scope_params, limit, offset)
        # SET LOCAL: the settings end with this transaction (a savepoint inside a caller's, which keeps them).
        with transaction.atomic(using=db), connections[db].cursor() as cursor:
            cursor.execute(_BOOK_RANKING_SETTINGS)
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        names, accounts = [field.attname for field in fields], []
        for row in rows:
            account = Account.from_db(db, names, row[:len(names)])  # as the ORM builds them: others deferred
            for name, value in zip(_BOOK_PAGE_ANNOTATIONS, row[len(names):-1], strict=True):
                setattr(account, name, value)
            accounts.append(account)
        return accounts, (rows[0][-1] if rows else None)

    def count(self) -> int:
        if self.account_ids is None:
            return Account.objects.count()
        return Account.objects.filter(pk__in=self.account_ids).count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index):
        if not isinstance(index, slice) or index.step not in (None, 1) or (index.start or 0) < 0:
            raise TypeError("A ranked book is read by pages (slices).")
        start = index.start or 0
        stop = index.stop if index.stop is not None else start + self.count()
        return self.page(start, max(0, stop - start))[0]


def account_status(account) -> str:
    """A word for an annotated account: never, overdue, due-soon, ok or none (no cadence)."""
    if account.cadence_days is None:
        return "none"
    if account.last_visit_at is None:
        return "never"
    if account.days_overdue is not None and account.days_overdue > 0:
        return "overdue"
    if account.days_overdue is not None and account.days_overdue > -7:
        return "due-soon"
    return "ok"


# -------------------------------------------------------------------------------------------------------- coverage
@dataclass
class CoverageRow:
    """Coverage of one territory or one rep's book: accounts within cadence, overdue and never visited."""

    key: int
    name: str
    accounts: int
    with_cadence: int
    within_cadence: int
    overdue: int
    never_visited: int

    @property
    def coverage_percent(self) -> float | None:
        return round(100.0 * self.within_cadence / self.with_cadence, 1) if self.with_cadence else None

    def as_dict(self) -> dict:
        return {**asdict(self), "coverage_percent": self.coverage_percent}


_BOOK_SQL = """
    SELECT asg.territory_id, a.id AS account_id, c.visits_per_year,
           (SELECT max(act.occurred_at) FROM {activity} act
             WHERE act.account_id = a.id AND act.kind = ANY(%(kinds)s) AND act.occurred_at <= %(at)s) AS last_visit
    FROM {assignment} asg
    JOIN {account} a ON a.id = asg.account_id
    LEFT JOIN {cadence} c ON c.tier = a.tier AND c.visits_per_year > 0
    WHERE asg.scenario_id = %(scenario)s AND asg.valid_to IS NULL
"""
_COUNTS_SQL = """
    count(DISTINCT book.account_id) AS accounts,
    count(DISTINCT book.account_id) FILTER (WHERE book.visits_per_year IS NOT NULL) AS with_cadence,
    count(DISTINCT book.account_id) FILTER (
        WHERE book.last_visit >= %(at)s - interval '1 day' * (365.0 / book.visits_per_year)) AS within_cadence,
    count(DISTINCT book.account_id) FILTER (
        WHERE book.last_visit < %(at)s - interval '1 day' * (365.0 / book.visits_per_year)) AS overdue,
    count(DISTINCT book.account_id) FILTER (
        WHERE book.visits_per_year IS NOT NULL AND book.last_visit IS NULL) AS never_visited
"""


def coverage_by_territory(
    *, scenario: Scenario, territory_ids: set[int] | None = None, at: dt.datetime | None = None
) -> list[CoverageRow]:
    """Coverage per leaf territory of a scenario (those in territory_ids when given), in one statement."""
    sql = f"""
        WITH book AS ({_BOOK_SQL.format(**_TABLES)})
        SELECT t.id, t.code || ' ' || t.name, {_COUNTS_SQL}
        FROM {_TABLES["territory"]} t LEFT JOIN book ON book.territory_id = t.id
        WHERE t.scenario_id = %(scenario)s
          AND NOT EXISTS (SELECT 1 FROM {_TABLES["territory"]} child WHERE child.parent_id = t.id)
          AND (%(all)s OR t.id = ANY(%(ids)s::bigint[]))
        GROUP BY t.id ORDER BY t.code
    """
    return _coverage_rows(sql, scenario=scenario, territory_ids=territory_ids, at=at)


def coverage_by_rep(
    *, scenario: Scenario, rep_ids: list[int] | None = None, at: dt.datetime | None = None
) -> list[CoverageRow]:
    """Coverage of each rep's book: the accounts of the subtrees of the territories they own today."""
    today = timezone.localdate(at) if at else timezone.localdate()
    sql = f"""
        WITH RECURSIVE owned(rep_id, territory_id) AS (
            SELECT ra.rep_id, ra.territory_id FROM {_TABLES["rep_assignment"]} ra
            JOIN {_TABLES["territory"]} t ON t.id = ra.territory_id AND t.scenario_id = %(scenario)s
            WHERE ra.role = 'owner' AND ra.rep_id IS NOT NULL AND (%(all)s OR ra.rep_id = ANY(%(ids)s::bigint[]))
              AND ra.valid_from <= %(today)s AND (ra.valid_to IS NULL OR ra.valid_to > %(today)s)
            UNION
            SELECT owned.rep_id, child.id FROM {_TABLES["territory"]} child
            JOIN owned ON child.parent_id = owned.territory_id
        ), book AS ({_BOOK_SQL.format(**_TABLES)})
        SELECT r.id, r.name, {_COUNTS_SQL}
        FROM {_TABLES["rep"]} r
        JOIN owned ON owned.rep_id = r.id
        LEFT JOIN book ON book.territory_id = owned.territory_id
        GROUP BY r.id ORDER BY r.name
    """
    return _coverage_rows(sql, scenario=scenario, territory_ids=set(rep_ids) if rep_ids is not None else None, at=at,
                          extra={"today": today})


def _coverage_rows(sql, *, scenario, territory_ids, at, extra=None) -> list[CoverageRow]:
    params = {
        "scenario": scenario.pk, "at": at or timezone.now(), "kinds": list(VISIT_KINDS),
        "all": territory_ids is None, "ids": sorted(territory_ids or []), **(extra or {}),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [CoverageRow(*row) for row in cursor.fetchall()]


def coverage_account_list(
    *, scenario: Scenario, territory_ids: set[int] | None, status: str, at: dt.datetime | None = None
) -> QuerySet[Account]:
    """The overdue (most overdue first) or never-visited accounts of the given territories."""
    accounts = (
        Account.objects.all() if territory_ids is None
        else accounts_in_territories(scenario=scenario, territory_ids=list(territory_ids))
    )
    if territory_ids is None:
        accounts = accounts.filter(assignments__scenario=scenario, assignments__valid_to__isnull=True).distinct()
    accounts = account_attention_annotate(accounts, at=at).filter(cadence_days__isnull=False)
    if status == "never":
        return accounts.filter(last_visit_at__isnull=True).order_by("tier", "-potential", "name")
    if status == "overdue":
        return accounts.filter(days_overdue__gt=0).order_by("-days_overdue", "name")
    raise ValueError(f"Unknown coverage status {status!r}")


# -------------------------------------------------------------------------------------------------------- workload
@dataclass
class TerritoryWorkload:
    """Hours a year a territory needs (visits x (visit time + travel)) against its owner's capacity."""

    territory_id: int
    code: str
    name: str
    accounts: int
    visits_per_year: float
    visit_hours: float
    travel_hours: float
    hours: float
    rep_id: int | None
    capacity_hours: float
    index: float | None  # 100 = exactly the owner's capacity
    relative_index: float | None  # 100 = the scenario's average territory

    def as_dict(self) -> dict:
        return asdict(self)


def territory_workload(
    *, scenario: Scenario, territory_ids: set[int] | None = None, at: dt.date | None = None,
    road_factor: float = ROAD_FACTOR, speed_kmh: float = AVERAGE_SPEED_KMH,
    default_capacity_hours: float = DEFAULT_CAPACITY_HOURS,
) -> list[TerritoryWorkload]:
    """Workload per leaf territory of a scenario, computed in one SQL statement.

    visits a year come from the tier cadences; each visit costs its minutes plus the drive from the
    territory's account centre (the mean of its account locations) times a road factor at an average speed.
    The index is hours / the owner's yearly capacity x 100 (a vacancy counts the default capacity).
    Other apps (balance metrics, the optimiser) call this.
    """
    today = at or timezone.localdate()
    sql = f"""
        WITH leaf AS (
            SELECT t.id, t.code, t.name FROM {_TABLES["territory"]} t
            WHERE t.scenario_id = %(scenario)s AND (%(all)s OR t.id = ANY(%(ids)s::bigint[]))
              AND NOT EXISTS (SELECT 1 FROM {_TABLES["territory"]} child WHERE child.parent_id = t.id)
        ), book AS (
            SELECT asg.territory_id, a.location, coalesce(c.visits_per_year, 0) AS visits,
                   coalesce(c.minutes_per_visit, 0) AS minutes
            FROM {_TABLES["assignment"]} asg
            JOIN leaf ON leaf.id = asg.territory_id
            JOIN {_TABLES["account"]} a ON a.id = asg.account_id
            LEFT JOIN {_TABLES["cadence"]} c ON c.tier = a.tier
            WHERE asg.scenario_id = %(scenario)s AND asg.valid_to IS NULL
        ), centre AS (
            SELECT territory_id, ST_Centroid(ST_Collect(location)) AS point FROM book
            WHERE location IS NOT NULL GROUP BY territory_id
        ), owner AS (
            SELECT DISTINCT ON (ra.territory_id) ra.territory_id, r.id AS rep_id, r.capacity_hours
            FROM {_TABLES["rep_assignment"]} ra JOIN {_TABLES["rep"]} r ON r.id = ra.rep_id
            JOIN leaf ON leaf.id = ra.territory_id
            WHERE ra.role = 'owner' AND ra.valid_from <= %(today)s AND (ra.valid_to IS NULL OR ra.valid_to > %(today)s)
            ORDER BY ra.territory_id, ra.valid_from DESC, ra.id DESC
        )
        SELECT leaf.id, leaf.code, leaf.name, count(book.territory_id),
               coalesce(sum(book.visits), 0),
               coalesce(sum(book.visits * book.minutes), 0) / 60.0,
               coalesce(sum(book.visits * ST_Distance(book.location::geography, centre.point::geography)), 0)
                   / 1000.0 * %(road_factor)s / %(speed)s,
               max(owner.rep_id), max(owner.capacity_hours)
        FROM leaf
        LEFT JOIN book ON book.territory_id = leaf.id
        LEFT JOIN centre ON centre.territory_id = leaf.id
        LEFT JOIN owner ON owner.territory_id = leaf.id
        GROUP BY leaf.id, leaf.code, leaf.name ORDER BY leaf.code
    """
    params = {
        "scenario": scenario.pk, "all": territory_ids is None, "ids": sorted(territory_ids or []),
        "today": today, "road_factor": road_factor, "speed": speed_kmh,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    result = []
    for pk, code, name, accounts, visits, visit_hours, travel_hours, rep_id, capacity in rows:
        hours = float(visit_hours) + float(travel_hours)
        capacity = float(capacity) if capacity else default_capacity_hours
        result.append(TerritoryWorkload(
            territory_id=pk, code=code, name=name, accounts=accounts, visits_per_year=float(visits),
            visit_hours=round(float(visit_hours), 2), travel_hours=round(float(travel_hours), 2),
            hours=round(hours, 2), rep_id=rep_id, capacity_hours=capacity,
            index=round(100.0 * hours / capacity, 1) if capacity else None, relative_index=None,
        ))
    mean = sum(row.hours for row in result) / len(result) if result else 0
    for row in result:
        row.relative_index = round(100.0 * row.hours / mean, 1) if mean else None
    return result
