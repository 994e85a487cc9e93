"""Pages of the map workspace: the map itself and the territory page."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse

from territories.models import Scenario, Territory
from territories.services.optimizer_runs import tradeoff_rows
from territories.workspace import selectors


def _require_manager(request) -> None:
    if not request.user.is_manager:
        raise PermissionDenied("The map workspace is for sales managers.")


OPTIMIZER_MEASURES = [("potential", "Potential", True), ("accounts", "Accounts", False),
                      ("workload_hours", "Workload", False), ("annual_revenue", "Revenue", False)]


def _url_or_empty(name: str, *args) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


@login_required
def index(request):
    """The map: boundaries, hierarchy, accounts, balance, editing and compare for one scenario."""
    _require_manager(request)
    scenarios = selectors.workspace_scenarios()
    selected = None
    if request.GET.get("scenario", "").isdigit():
        selected = Scenario.objects.filter(pk=int(request.GET["scenario"])).first()
    selected = selected or selectors.workspace_scenario_default()
    compare_id = request.GET.get("compare", "")
    base = reverse("workspace:api-tree", args=[0]).removesuffix("0/tree/")
    config = {
        "scenarios": scenarios,
        "scenario": selected.pk if selected else None,
        "compare": int(compare_id) if compare_id.isdigit() else None,
        "tileUrl": settings.MAP_TILE_URL,
        "tileAttribution": "&copy; OpenStreetMap contributors",
        "api": base,
        "territoryUrl": reverse("workspace:territory-detail", args=[0]).replace("/0/", "/{id}/"),
        "scenarioUrl": _url_or_empty("territories:scenario-detail", 0).replace("/0/", "/{id}/"),
        "center": list(settings.LEAFLET_CONFIG.get("DEFAULT_CENTER", (39.5, -98.35))),
        "zoom": settings.LEAFLET_CONFIG.get("DEFAULT_ZOOM", 4),
        "accountClusterLimit": selectors.ACCOUNT_LIMIT,
        "accountUrl": _url_or_empty("accounts:account-detail", 0).replace("/0/", "/{id}/"),
        "csrfToken": get_token(request),
        "optimizeUrl": "/api/v1/scenarios/{id}/optimize/",
        "tradeoffAdoptUrl": "/api/v1/scenarios/{id}/tradeoff/{point}/adopt/",
        "jobUrl": "/api/v1/jobs/{id}/",
        "compareUrl": _url_or_empty("territories:scenario-compare"),
    }
    return render(request, "workspace/index.html", {"config": config, "scenarios": scenarios,
                                                    "selected": selected,
                                                    "optimizer_report": selected.optimizer_report if selected else None,
                                                    "tradeoff": tradeoff_rows(scenario=selected) if selected else [],
                                                    "optimizer_measures": OPTIMIZER_MEASURES})


@login_required
def territory_detail(request, pk: int):
    """One territory: measures, accounts, reps and history."""
    _require_manager(request)
    territory = get_object_or_404(Territory.objects.select_related("scenario", "parent", "territory_type"), pk=pk)
    accounts = selectors.territory_accounts(territory=territory)
    account_url = _url_or_empty("accounts:account-detail", 0)
    rows = [{"account": account, "url": account_url.replace("/0/", f"/{account.pk}/") if account_url else ""}
            for account in accounts]
    return render(request, "workspace/territory_detail.html", {
        "territory": territory,
        "measures": selectors.territory_measures(territory=territory),
        "accounts": rows,
        "children": territory.children.order_by("code"),
        "reps": selectors.territory_reps(territory=territory),
        "history": selectors.territory_history(territory=territory),
        "workspace_url": f"{reverse('workspace:index')}?scenario={territory.scenario_id}",
    })
