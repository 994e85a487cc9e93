"""Pages: the rep's book, call plans, the roster, coverage and matching. Each view parses, calls, renders."""

import csv
import datetime as dt
import json
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from reps import services
from reps.call_plans import call_plan_build, call_plan_ics, week_start_for
from reps.coverage import (
    RankedBook,
    account_attention_annotate,
    account_attention_order,
    account_list_for_user,
    account_status,
    coverage_account_list,
    coverage_by_rep,
    coverage_by_territory,
    territory_workload,
)
from reps.filters import BookAccountFilterSet, RepFilterSet
from reps.forms import ActivityForm, CallPlanForm, MatchForm, RepForm
from reps.matching import rep_territory_match_proposal
from reps.models import Rep, RepAssignment
from reps.pagination import BookPaginator
from reps.selectors import (
    rep_assignments_current_for_rep,
    rep_editable_list,
    rep_for_user,
    rep_list,
    team_list,
    territory_ids_for_user,
    territory_ids_staffable,
    territory_list_for_user,
    territory_vacancy_list,
    user_is_manager,
)
from territories.models import Scenario
from territories.selectors import scenario_active

MAP_ACCOUNT_LIMIT = 5000  # markers embedded in a page; the list pages through the rest


def manager_required(view):
    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not user_is_manager(request.user):
            raise PermissionDenied("This page is for managers.")
        return view(request, *args, **kwargs)

    return wrapped


def _map_context(*, features: list[dict], boundaries: list[dict] | None = None, routes: list[dict] | None = None,
                 home: dict | None = None):
    return {"map_data": {"tile_url": settings.MAP_TILE_URL, "accounts": features, "boundaries": boundaries or [],
                         "routes": routes or [], "home": home}}


def _account_feature(account, *, detail: bool = True) -> dict:
    # A ranked book's accounts bring their coordinates as floats (their location is not read).
    lon, lat = (account.longitude, account.latitude) if hasattr(account, "longitude") else account.location.coords
    return {
        "id": account.pk, "name": account.name, "tier": account.tier, "lon": lon, "lat": lat,
        "status": account_status(account),
        "url": reverse("reps:my-account", args=[account.pk]) if detail else "",
    }


def _boundaries(user, scenario) -> list[dict]:
    territories = territory_list_for_user(user=user, scenario=scenario).filter(boundary__isnull=False)
    return [{"name": f"{t.code} {t.name}", "color": t.color or "", "geometry": json.loads(t.boundary.geojson)}
            for t in territories.filter(children__isnull=True)[:200]]


# --------------------------------------------------------------------------------------------------- the rep's view
@login_required
def my_book(request):
    """My territories and accounts on a map and in a list, what needs attention first."""
    scenario = scenario_active()
    accounts = account_attention_order(account_attention_annotate(account_list_for_user(user=request.user)))
    filterset = BookAccountFilterSet(request.GET, queryset=accounts)
    if set(request.GET) - {"page"}:  # filtered: the annotated queryset
        filtered = filterset.qs
        page = Paginator(filtered, 50).get_page(request.GET.get("page"))
        located = filtered.filter(location__isnull=False)[:MAP_ACCOUNT_LIMIT]
    else:  # the book as it comes, ranked on the keys of its order (a big book's page took seconds otherwise)
        book = RankedBook(user=request.user)  # the user's scope is looked up once for the list and the map
        page = BookPaginator(book, 50).get_page(request.GET.get("page"))
        located = book.page(0, MAP_ACCOUNT_LIMIT, located=True)[0]
    for account in page:
        account.status = account_status(account)
    mapped = [_account_feature(a) for a in located]
    territories = list(territory_list_for_user(user=request.user, scenario=scenario).filter(children__isnull=True)
                       ) if scenario else []
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "reps/my_book.html", {
        "filterset": filterset, "page": page, "territories": territories, "rep": rep_for_user(user=request.user),
        "scenario": scenario, "query": query.urlencode(), "mapped_count": len(mapped),
        **_map_context(features=mapped, boundaries=_boundaries(request.user, scenario) if scenario else []),
    })


@login_required
def my_account(request, pk: int):
    """One account of my book, its activities, and a form to log one; another rep's account is a 404."""
    account = get_object_or_404(account_attention_annotate(account_list_for_user(user=request.user)), pk=pk)
    form = ActivityForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.activity_log(account=account, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{form.cleaned_data['kind'].capitalize()} logged for {account.name}.")
            return redirect("reps:my-account", pk=account.pk)
    account.status = account_status(account)
    return render(request, "reps/account_detail.html", {
        "account": account, "form": form,
        "activities": account.activities.select_related("rep").order_by("-occurred_at")[:50],
        "opportunities": account.opportunities.exclude(stage__in=["won", "lost"]).order_by("close_date"),
        **_map_context(features=[_account_feature(account)] if account.location else []),
    })


def _plan_for(request):
    """The rep and week a plan page asks for, within the user's scope."""
    reps = rep_list(user=request.user).filter(is_active=True)
    form = CallPlanForm(request.GET or None, reps=reps)
    rep = form.cleaned_data.get("rep") if form.is_valid() else None
    rep = rep or rep_for_user(user=request.user) or (reps.first() if user_is_manager(request.user) else None)
    if rep is None:
        raise Http404("No rep profile to plan for.")
    return form, rep, week_start_for(form.week_or_next())


@login_required
def call_plan(request):
    """A week of visits on the map, route by route, with the .ics export."""
    form, rep, week = _plan_for(request)
    plan = call_plan_build(rep=rep, week_start=week)
    colours = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00"]
    routes = [{"label": f"{day.date:%a %d %b}", "color": colours[index % len(colours)], "points": day.route,
               "stops": [{"order": v.order, "name": v.account.name, "lon": v.account.location.x,
                          "lat": v.account.location.y, "time": f"{timezone.localtime(v.starts_at):%H:%M}",
                          "url": reverse("reps:my-account", args=[v.account.pk])
                          if not user_is_manager(request.user) else ""} for v in day.visits]}
              for index, day in enumerate(plan.days)]
    home = {"lon": rep.home_location.x, "lat": rep.home_location.y} if rep.home_location else None
    base = f"rep={rep.pk}&week="
    return render(request, "reps/call_plan.html", {
        "form": form, "plan": plan, "rep": rep, "colours": colours,
        "previous_week": base + (week - dt.timedelta(days=7)).isoformat(),
        "next_week": base + (week + dt.timedelta(days=7)).isoformat(),
        "ics_query": base + week.isoformat(),
        **_map_context(features=[], routes=routes, home=home),
    })


@login_required
def call_plan_export(request):
    _, rep, week = _plan_for(request)
    plan = call_plan_build(rep=rep, week_start=week)
    response = HttpResponse(call_plan_ics(plan, host=request.get_host().split(":")[0]),
                            content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="call-plan-{week}.ics"'
    return response


# ------------------------------------------------------------------------------------------------ managers' pages
@manager_required
def rep_list_page(request):
    current = Prefetch("assignments", to_attr="current_assignments",
                       queryset=RepAssignment.objects.filter(valid_to__isnull=True).select_related("territory"))
    filterset = RepFilterSet(request.GET, queryset=rep_list(user=request.user).prefetch_related(current))
    page = Paginator(filterset.qs.order_by("name"), 50).get_page(request.GET.get("page"))
    return render(request, "reps/rep_list.html", {"filterset": filterset, "page": page,
                                                  "teams": team_list(user=request.user)})


class _Echo:
    def write(self, value):
        return value


@manager_required
def rep_export(request):
    """The roster as CSV, cut to the manager's teams like every other view of it."""
    filterset = RepFilterSet(request.GET, queryset=rep_list(user=request.user))
    writer = csv.writer(_Echo())
    header = ["id", "name", "email", "team", "role", "seniority", "capacity_hours", "home_city", "longitude",
              "latitude", "industries", "products", "is_active", "start_date", "end_date"]

    def rows():
        yield writer.writerow(header)
        for rep in filterset.qs.order_by("name").iterator(chunk_size=500):
            yield writer.writerow([
                rep.pk, rep.name, rep.email, rep.team.name if rep.team else "", rep.role, rep.seniority,
                rep.capacity_hours, rep.home_city, rep.home_location.x if rep.home_location else "",
                rep.home_location.y if rep.home_location else "", ";".join(rep.industries), ";".join(rep.products),
                rep.is_active, rep.start_date or "", rep.end_date or "",
            ])

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="reps.csv"'
    return response


@manager_required
def rep_detail(request, pk: int):
    rep = get_object_or_404(rep_list(user=request.user), pk=pk)
    scenario = scenario_active()
    coverage = coverage_by_rep(scenario=scenario, rep_ids=[rep.pk]) if scenario else []
    return render(request, "reps/rep_detail.html", {
        "rep": rep, "current": rep_assignments_current_for_rep(rep=rep),
        "history": rep.assignments.select_related("territory", "territory__scenario").order_by("-valid_from")[:100],
        "coverage": coverage[0] if coverage else None, "can_edit": rep_editable_list(user=request.user)
        .filter(pk=rep.pk).exists(),
    })


@manager_required
def rep_edit(request, pk: int | None = None):
    rep = get_object_or_404(rep_editable_list(user=request.user), pk=pk) if pk else None
    teams = team_list(user=request.user)
    form = RepForm(request.POST or None, teams=teams, initial=RepForm.initial_for(rep) if rep else
                   {"capacity_hours": 1400, "seniority": Rep.Seniority.REP, "is_active": True})
    if request.method == "POST" and form.is_valid():
        try:
            if rep:
                rep = services.rep_update(rep=rep, user=request.user, **form.service_fields())
            else:
                rep = services.rep_create(user=request.user, **form.service_fields())
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Saved {rep.name}.")
            return redirect("reps:rep-detail", pk=rep.pk)
    return render(request, "reps/rep_form.html", {"form": form, "rep": rep})


def _scenario_param(request) -> Scenario | None:
    raw = request.GET.get("scenario") or request.POST.get("scenario")
    if raw and raw.isdigit():
        return get_object_or_404(Scenario, pk=int(raw))
    return scenario_active()


@manager_required
def coverage_page(request):
    """Coverage against cadence per territory and rep, the overdue and never-visited lists, and workload."""
    scenario = _scenario_param(request)
    context = {"scenario": scenario, "scenarios": Scenario.objects.exclude(status=Scenario.Status.ARCHIVED)}
    if scenario is not None:
        territory_ids = territory_ids_for_user(user=request.user)
        rep_ids = None if territory_ids is None else list(rep_list(user=request.user).values_list("pk", flat=True))
        context.update(
            territories=coverage_by_territory(scenario=scenario, territory_ids=territory_ids),
            reps=coverage_by_rep(scenario=scenario, rep_ids=rep_ids),
            overdue=coverage_account_list(scenario=scenario, territory_ids=territory_ids, status="overdue")[:50],
            never=coverage_account_list(scenario=scenario, territory_ids=territory_ids, status="never")[:50],
            workload=territory_workload(scenario=scenario, territory_ids=territory_ids),
        )
    return render(request, "reps/coverage.html", context)


@manager_required
def coverage_export(request):
    """Overdue or never-visited accounts as CSV, cut to the manager's part of the hierarchy."""
    scenario = _scenario_param(request)
    if scenario is None:
        raise Http404("No scenario.")
    status_name = request.GET.get("status", "overdue")
    if status_name not in {"overdue", "never"}:
        raise Http404("Unknown list.")
    accounts = coverage_account_list(scenario=scenario, territory_ids=territory_ids_for_user(user=request.user),
                                     status=status_name)
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(["id", "external_id", "name", "tier", "city", "last_visit_at", "days_overdue"])
        for account in accounts.iterator(chunk_size=1000):
            yield writer.writerow([account.pk, account.external_id, account.name, account.tier, account.city,
                                   account.last_visit_at or "", round(account.days_overdue or 0, 1)])

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{status_name}-accounts.csv"'
    return response


@manager_required
def match_page(request):
    """Propose owners for a scenario's territories, then accept all or some of them."""
    if request.method == "POST":
        pairs = []
        for value in request.POST.getlist("accept"):
            territory_id, _, rep_id = value.partition(":")
            pairs.append((int(territory_id), int(rep_id) if rep_id else None))
        if not pairs:
            messages.error(request, "Tick at least one proposal to accept.")
        else:
            try:
                created = services.match_accept(pairs=pairs, user=request.user)
            except (ValidationError, PermissionDenied) as exc:
                messages.error(request, "; ".join(getattr(exc, "messages", [str(exc)])))
            else:
                messages.success(request, f"{len(created)} assignment(s) made.")
        return redirect(f"{reverse('reps:match')}?{request.POST.get('query', '')}")
    form = MatchForm(request.GET or None, initial={"scenario": scenario_active()})
    context = {"form": form, "query": request.GET.urlencode()}
    if form.is_valid():
        scenario = form.cleaned_data["scenario"]
        reps = rep_editable_list(user=request.user).filter(is_active=True, role=Rep.Role.FIELD)
        weights = {name: form.cleaned_data[name] for name in ("travel", "expertise", "value")}
        try:
            result = rep_territory_match_proposal(
                scenario, reps=list(reps), weights=weights,
                territory_ids=territory_ids_staffable(user=request.user, scenario=scenario),
            )
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            context.update(result=result, scenario=scenario,
                           unassigned=Rep.objects.filter(pk__in=result.unassigned_rep_ids),
                           vacancies=territory_vacancy_list(scenario=scenario,
                                                            territory_ids=territory_ids_for_user(user=request.user)))
    return render(request, "reps/match.html", context)
