"""Pages: the manager's dashboard, a rep's own progress, the map's GeoJSON, CSV export, the recompute button."""

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from core.models import Job
from performance.exports import kpi_snapshot_csv_rows
from performance.filters import KpiSnapshotFilterSet
from performance.models import KpiSnapshot
from performance.periods import PERIOD_KINDS, QUARTER, Period, local_today, period_of, periods_recent_months
from performance.selectors import (
    kpi_flag_list,
    kpi_flags_with_links,
    kpi_map_features,
    kpi_rep_rows,
    kpi_snapshot_list,
    kpi_territory_rows,
    kpi_trend,
    rep_for_user,
    rep_names,
    user_is_manager,
)
from performance.services.kpis import kpi_history_request, kpi_recompute_request
from territories.models import Scenario, Territory
from territories.selectors import scenario_active

MAP_METRICS = [("attainment", "Attainment %"), ("visit_coverage", "Visit coverage %"), ("win_rate", "Win rate %"),
               ("pipeline_coverage", "Pipeline coverage ×"), ("workload_index", "Workload index %"),
               ("potential_index", "Potential index"), ("revenue_won", "Revenue won"), ("pipeline", "Pipeline")]


def _manager_required(request) -> None:
    if not user_is_manager(request.user):
        raise PermissionDenied("Managers only.")


def _period_from(request) -> tuple[str, Period]:
    kind = request.GET.get("period") or QUARTER
    if kind not in PERIOD_KINDS:
        kind = QUARTER
    try:
        day = dt.date.fromisoformat(request.GET["date"]) if request.GET.get("date") else local_today()
    except ValueError:
        day = local_today()
    return kind, period_of(kind, day)


def _scenario_from(request) -> Scenario | None:
    if request.GET.get("scenario"):
        return get_object_or_404(Scenario, pk=request.GET["scenario"])
    return scenario_active()


@login_required
def dashboard(request):
    """Attainment by territory, trends over the last 12 months, the KPI map, the ranked table with flags."""
    if not user_is_manager(request.user):
        return redirect("performance:my-progress")
    scenario = _scenario_from(request)
    kind, period = _period_from(request)
    context = {"scenario": scenario, "period": period, "period_kind": kind, "period_kinds": PERIOD_KINDS,
               "date": request.GET.get("date") or local_today().isoformat(), "map_metrics": MAP_METRICS,
               "map_metric": request.GET.get("kpi") or "attainment", "tile_url": settings.MAP_TILE_URL}
    if scenario is None:
        return render(request, "performance/dashboard.html", context)
    levels = list(Territory.objects.filter(scenario=scenario).order_by("depth").values_list("depth", "level_name")
                  .distinct("depth"))
    level = request.GET.get("level")
    level = int(level) if level not in (None, "", "leaves") and level.isdigit() else None
    rows = kpi_territory_rows(scenario=scenario, period=period, level=level)
    summary = KpiSnapshot.objects.filter(scenario=scenario, scope=KpiSnapshot.Scope.SCENARIO,
                                         period_start=period.start, period_end=period.end).first()
    flags = kpi_flag_list(snapshots=KpiSnapshot.objects.filter(
        scenario=scenario, period_start=period.start, period_end=period.end, scope=KpiSnapshot.Scope.TERRITORY))
    chart_rows = sorted(rows, key=lambda s: s.territory.code)
    query = f"scenario={scenario.pk}&period_start={period.start}&period_end={period.end}"
    owners = rep_names(rep_ids={s.metrics.get("owner_rep_id") for s in rows})
    context.update(
        levels=levels, level=level, summary=summary, flags=flags,
        rows=[{"snapshot": s, "metrics": s.metrics, "flags": kpi_flags_with_links(s),
               "owner": owners.get(s.metrics.get("owner_rep_id"), "")} for s in rows],
        chart={"labels": [s.territory.code for s in chart_rows],
               "attainment": [s.metrics.get("attainment") for s in chart_rows],
               "coverage": [s.metrics.get("visit_coverage") for s in chart_rows]},
        trend=kpi_trend(scenario=scenario, periods=periods_recent_months(count=12, until=period.end)),
        map_url=reverse("performance:map-data") + f"?{query}",
        export_territories_url=reverse("performance:export") + f"?{query}&scope=territory"
        + (f"&depth={level}" if level is not None else "&is_leaf=true"),
        export_reps_url=reverse("performance:export") + f"?{query}&scope=rep",
        export_all_url=reverse("performance:export") + f"?{query}",
        rep_rows=kpi_rep_rows(scenario=scenario, period=period).order_by("rep__name"),
        last_job=Job.objects.filter(kind=Job.Kind.KPI_RECOMPUTE).order_by("-created_at").first(),
    )
    return render(request, "performance/dashboard.html", context)


@login_required
def my_progress(request):
    """A rep's own attainment, coverage and pipeline for this month, quarter and year, trends and flags."""
    rep = rep_for_user(request.user)
    scenario = scenario_active()
    context = {"rep": rep, "scenario": scenario}
    if rep is None or scenario is None:
        return render(request, "performance/my_progress.html", context)
    try:  # ?date= looks back at the periods containing an earlier day
        today = dt.date.fromisoformat(request.GET["date"]) if request.GET.get("date") else local_today()
    except ValueError:
        today = local_today()
    cards = []
    for kind in PERIOD_KINDS:
        period = period_of(kind, today)
        snapshot = kpi_rep_rows(scenario=scenario, period=period, rep=rep).first()
        cards.append({"kind": kind, "period": period, "snapshot": snapshot,
                      "metrics": snapshot.metrics if snapshot else {},
                      "flags": kpi_flags_with_links(snapshot) if snapshot else []})
    quarter = period_of(QUARTER, today)
    territories = [
        s for s in kpi_territory_rows(scenario=scenario, period=quarter) if s.metrics.get("owner_rep_id") == rep.pk
    ]
    context.update(cards=cards, territories=territories,
                   trend=kpi_trend(scenario=scenario, periods=periods_recent_months(count=12, until=today),
                                   scope=KpiSnapshot.Scope.REP, rep=rep))
    return render(request, "performance/my_progress.html", context)


@login_required
def map_data(request):
    """Leaf territories of a scenario and period as GeoJSON, each with its metrics and flags."""
    _manager_required(request)
    scenario = _scenario_from(request)
    if scenario is None:
        raise Http404("No active scenario.")
    try:
        period = Period(dt.date.fromisoformat(request.GET["period_start"]),
                        dt.date.fromisoformat(request.GET["period_end"]))
    except (KeyError, ValueError):
        period = _period_from(request)[1]
    return JsonResponse(kpi_map_features(scenario=scenario, period=period))


@login_required
def export(request):
    """Any KPI table as CSV: the same filters as /api/v1/kpi-snapshots/; reps get their own rows only."""
    filterset = KpiSnapshotFilterSet(request.GET, queryset=kpi_snapshot_list(user=request.user))
    if not filterset.is_valid():
        return JsonResponse({"errors": filterset.errors}, status=400)
    response = StreamingHttpResponse(kpi_snapshot_csv_rows(snapshots=filterset.qs), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="kpis.csv"'
    return response


@login_required
@require_POST
def recompute(request):
    """The dashboard's button: queue a recompute of the chosen period (or of the last 12 months)."""
    _manager_required(request)
    scenario = get_object_or_404(Scenario, pk=request.POST.get("scenario")) if request.POST.get("scenario") \
        else scenario_active()
    if scenario is None:
        messages.error(request, "There is no active scenario to compute.")
        return redirect("performance:dashboard")
    if request.POST.get("history"):
        job = kpi_history_request(scenario=scenario, months=12, user=request.user)
    else:
        kind = request.POST.get("period") if request.POST.get("period") in PERIOD_KINDS else QUARTER
        try:
            day = dt.date.fromisoformat(request.POST.get("date") or "")
        except ValueError:
            day = local_today()
        job = kpi_recompute_request(scenario=scenario, period=period_of(kind, day), user=request.user)
    messages.success(request, f"KPI recompute queued as job #{job.pk}.")
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("performance:dashboard")
    return redirect(target)
