"""Read-side queries for performance: quotas rolled up the hierarchy, snapshots, flags and what a user may see."""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Q, QuerySet
from django.urls import NoReverseMatch, reverse

from performance.models import KpiSnapshot, Opportunity, Quota
from performance.periods import Period
from reps.models import Rep
from territories.models import Scenario, Territory

CENT = Decimal("0.01")


# --- who sees what ------------------------------------------------------------------------------------------------

def user_is_manager(user) -> bool:
    return bool(user and user.is_authenticated and user.is_manager)


def rep_for_user(user) -> Rep | None:
    """The rep record linked to a signed-in user, if any."""
    if not user or not user.is_authenticated:
        return None
    return Rep.objects.filter(user=user).first()


def quota_list(*, user) -> QuerySet[Quota]:
    queryset = Quota.objects.select_related("territory", "rep")
    if user_is_manager(user):
        return queryset
    rep = rep_for_user(user)
    return queryset.filter(rep=rep) if rep else queryset.none()


def opportunity_list(*, user) -> QuerySet[Opportunity]:
    queryset = Opportunity.objects.select_related("account", "rep")
    if user_is_manager(user):
        return queryset
    rep = rep_for_user(user)
    return queryset.filter(rep=rep) if rep else queryset.none()


def kpi_snapshot_list(*, user) -> QuerySet[KpiSnapshot]:
    """Managers see every snapshot; a rep only the rows about themselves."""
    queryset = KpiSnapshot.objects.select_related("territory", "rep", "scenario")
    if user_is_manager(user):
        return queryset
    rep = rep_for_user(user)
    return queryset.filter(scope=KpiSnapshot.Scope.REP, rep=rep) if rep else queryset.none()


def rep_names(*, rep_ids) -> dict[int, str]:
    return dict(Rep.objects.filter(pk__in=[pk for pk in rep_ids if pk]).values_list("pk", "name"))


# --- quotas -------------------------------------------------------------------------------------------------------

@dataclass
class QuotaTargets:
    """Targets per (territory id, metric) after roll-up, and per (rep id, metric)."""

    territories: dict[tuple[int, str], Decimal] = field(default_factory=dict)
    reps: dict[tuple[int, str], Decimal] = field(default_factory=dict)


_PRORATED_SQL = """
SELECT {subject}, metric,
       sum(target * (LEAST(period_end, %(end)s) - GREATEST(period_start, %(start)s) + 1)::numeric
           / (period_end - period_start + 1))
FROM performance_quota
WHERE {subject} IS NOT NULL AND period_start <= %(end)s AND period_end >= %(start)s {scope}
GROUP BY {subject}, metric
"""


def _quota_prorated(*, subject: str, period: Period, scenario: Scenario) -> dict[tuple[int, str], Decimal]:
    """Quotas overlapping the period, each counted for the share of its days that fall inside it."""
    scope = ("AND territory_id IN (SELECT id FROM territories_territory WHERE scenario_id = %(scenario_id)s)"
             if subject == "territory_id" else "")
    with connection.cursor() as cursor:
        cursor.execute(_PRORATED_SQL.format(subject=subject, scope=scope),
                       {"start": period.start, "end": period.end, "scenario_id": scenario.pk})
        return {(pk, metric): Decimal(value).quantize(CENT) for pk, metric, value in cursor.fetchall()}


def quota_rollup(*, scenario: Scenario, period: Period, metric: str = Quota.Metric.REVENUE) -> dict[int, Decimal]:
    """Each territory's target: its own quota, or else the sum of its children's (recursively)."""
    return {pk: value for (pk, m), value in quota_targets(scenario=scenario, period=period).territories.items()
            if m == metric}


def quota_targets(*, scenario: Scenario, period: Period) -> QuotaTargets:
    """Territory targets rolled up the hierarchy; rep targets from rep quotas, else from the territories they own."""
    own = _quota_prorated(subject="territory_id", period=period, scenario=scenario)
    children: dict[int | None, list[int]] = defaultdict(list)
    for pk, parent_id in Territory.objects.filter(scenario=scenario).values_list("pk", "parent_id"):
        children[parent_id].append(pk)
    metrics = {metric for _, metric in own}
    rolled: dict[tuple[int, str], Decimal] = {}

    def visit(pk: int) -> None:
        for child in children.get(pk, []):
            visit(child)
        for metric in metrics:
            if (pk, metric) in own:
                rolled[(pk, metric)] = own[(pk, metric)]
                continue
            values = [rolled[(child, metric)] for child in children.get(pk, []) if (child, metric) in rolled]
            if values:
                rolled[(pk, metric)] = sum(values, Decimal(0))

    for root in children.get(None, []):
        visit(root)

    reps = _quota_prorated(subject="rep_id", period=period, scenario=scenario)
    for (rep_id, metric), value in _rep_quota_from_territories(scenario=scenario, period=period,
                                                               rolled=rolled).items():
        reps.setdefault((rep_id, metric), value)
    return QuotaTargets(territories=rolled, reps=reps)


def _rep_quota_from_territories(*, scenario: Scenario, period: Period,
                                rolled: dict[tuple[int, str], Decimal]) -> dict[tuple[int, str], Decimal]:
    """A rep without a quota of their own carries the targets of the top-most territories they own."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT ON (ra.territory_id) ra.territory_id, ra.rep_id, t.parent_id
            FROM reps_repassignment ra JOIN territories_territory t ON t.id = ra.territory_id
            WHERE t.scenario_id = %(scenario_id)s AND ra.role = 'owner' AND ra.valid_from <= %(day)s
              AND (ra.valid_to IS NULL OR ra.valid_to >= %(day)s)
            ORDER BY ra.territory_id, ra.valid_from DESC, ra.id DESC
            """,
            {"scenario_id": scenario.pk, "day": period.end},
        )
        owned = cursor.fetchall()
    parents = dict(Territory.objects.filter(scenario=scenario).values_list("pk", "parent_id"))
    owned_by = {territory_id: rep_id for territory_id, rep_id, _ in owned if rep_id}
    result: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for territory_id, rep_id in owned_by.items():
        ancestor, covered_above = parents.get(territory_id), False
        while ancestor is not None:
            if owned_by.get(ancestor) == rep_id:
                covered_above = True
                break
            ancestor = parents.get(ancestor)
        if covered_above:
            continue
        for (pk, metric), value in rolled.items():
            if pk == territory_id:
                result[(rep_id, metric)] += value
    return dict(result)


# --- snapshots, flags and links -----------------------------------------------------------------------------------

def _reverse_first(candidates: list[tuple[str, list, str]]) -> str:
    for name, args, query in candidates:
        try:
            return reverse(name, args=args) + query
        except NoReverseMatch:
            continue
    return ""


def kpi_flag_link(*, action: str, territory_id: int | None = None, rep_id: int | None = None,
                  scenario_id: int | None = None) -> str:
    """Where to act on a flag: the map workspace to realign, the coverage page to reassign or plan visits."""
    if territory_id:
        query = f"?territory={territory_id}"
        workspace = (f"?scenario={scenario_id}&territory={territory_id}" if scenario_id else query)
        by_action = {
            "realign": [("workspace:index", [], workspace)],
            "reassign": [("reps:coverage", [], query)],
            "coverage": [("reps:coverage", [], query)],
        }
        candidates = by_action.get(action, []) + [
            ("workspace:territory-detail", [territory_id], ""),
        ]
        return _reverse_first(candidates)
    if rep_id:
        return _reverse_first([("reps:rep-detail", [rep_id], ""), ("admin:reps_rep_change", [rep_id], "")])
    return ""


ACTION_LABELS = {"realign": "Realign", "reassign": "Reassign", "coverage": "Plan visits", "review": "Review"}


def kpi_flags_with_links(snapshot: KpiSnapshot) -> list[dict]:
    return [
        {**flag, "link": kpi_flag_link(action=flag.get("action", ""), territory_id=snapshot.territory_id,
                                       rep_id=snapshot.rep_id, scenario_id=snapshot.scenario_id),
         "action_label": ACTION_LABELS.get(flag.get("action", ""), "Open")}
        for flag in snapshot.flags or []
    ]


def kpi_flag_list(*, snapshots: QuerySet[KpiSnapshot]) -> list[dict]:
    """Every flag of the given snapshots as a flat list, worst first, each with its subject and link."""
    severity_order = {"high": 0, "medium": 1, "low": 2}
    items = []
    for snapshot in snapshots.exclude(flags=[]).select_related("territory", "rep"):
        subject = snapshot.territory or snapshot.rep
        for flag in kpi_flags_with_links(snapshot):
            items.append({
                **flag, "snapshot_id": snapshot.pk, "scope": snapshot.scope, "territory_id": snapshot.territory_id,
                "rep_id": snapshot.rep_id, "subject": str(subject) if subject else "",
                "period_start": snapshot.period_start, "period_end": snapshot.period_end,
            })
    items.sort(key=lambda item: (severity_order.get(item.get("severity"), 9), item["subject"]))
    return items


def kpi_latest_period(*, scenario: Scenario) -> Period | None:
    row = (KpiSnapshot.objects.filter(scenario=scenario, scope=KpiSnapshot.Scope.SCENARIO)
           .order_by("-computed_at").values_list("period_start", "period_end").first())
    return Period(*row) if row else None


def kpi_territory_rows(*, scenario: Scenario, period: Period, level: int | None = None) -> list[KpiSnapshot]:
    """Territory snapshots of a period (one hierarchy level, or the leaves), worst attainment first."""
    queryset = KpiSnapshot.objects.filter(
        scenario=scenario, scope=KpiSnapshot.Scope.TERRITORY, period_start=period.start, period_end=period.end
    ).select_related("territory")
    queryset = queryset.filter(metrics__depth=level) if level is not None else queryset.filter(metrics__is_leaf=True)
    rows = list(queryset)
    rows.sort(key=lambda s: (s.metrics.get("attainment") is None, s.metrics.get("attainment") or 0,
                             s.territory.code if s.territory else ""))
    return rows


def kpi_rep_rows(*, scenario: Scenario, period: Period, rep: Rep | None = None) -> QuerySet[KpiSnapshot]:
    queryset = KpiSnapshot.objects.filter(
        scenario=scenario, scope=KpiSnapshot.Scope.REP, period_start=period.start, period_end=period.end
    ).select_related("rep")
    return queryset.filter(rep=rep) if rep else queryset


def kpi_trend(*, scenario: Scenario, periods: list[Period], scope: str = KpiSnapshot.Scope.SCENARIO,
              rep: Rep | None = None, territory: Territory | None = None) -> list[dict]:
    """One snapshot's metrics per period (None where it was never computed), oldest first."""
    queryset = KpiSnapshot.objects.filter(scenario=scenario, scope=scope).filter(
        Q(*[Q(period_start=p.start, period_end=p.end) for p in periods], _connector=Q.OR)
    )
    if rep is not None:
        queryset = queryset.filter(rep=rep)
    if territory is not None:
        queryset = queryset.filter(territory=territory)
    by_period = {(s.period_start, s.period_end): s.metrics for s in queryset}
    return [{"label": p.label, "start": p.start.isoformat(), "metrics": by_period.get((p.start, p.end))}
            for p in periods]


def kpi_map_features(*, scenario: Scenario, period: Period, tolerance: float = 0.002) -> dict:
    """Leaf territory boundaries (simplified in PostGIS) with their KPI metrics, as a GeoJSON collection."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT json_build_object('type', 'FeatureCollection', 'features', COALESCE(json_agg(json_build_object(
                'type', 'Feature', 'id', t.id,
                'geometry', ST_AsGeoJSON(ST_SimplifyPreserveTopology(t.boundary, %(tolerance)s), 5)::json,
                'properties', json_build_object('id', t.id, 'code', t.code, 'name', t.name,
                                                'metrics', s.metrics, 'flags', s.flags))), '[]'::json))
            FROM territories_territory t
            LEFT JOIN performance_kpisnapshot s ON s.territory_id = t.id AND s.scope = 'territory'
                 AND s.period_start = %(start)s AND s.period_end = %(end)s
            WHERE t.scenario_id = %(scenario_id)s AND t.boundary IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM territories_territory c WHERE c.parent_id = t.id)
            """,
            {"scenario_id": scenario.pk, "start": period.start, "end": period.end, "tolerance": tolerance},
        )
        (collection,) = cursor.fetchone()
    return collection
