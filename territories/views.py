"""Manager pages for scenarios: list and lifecycle buttons, hierarchy and rules, compare, allocation, unit import.

Each view parses the form, calls one service or selector, and renders or redirects with a message.
"""

import json
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from core.models import Job
from core.services import job_create, job_enqueue
from territories import services
from territories.models import AssignmentRule, Scenario, Territory, TerritoryType
from territories.selectors import rule_field_kinds, scenario_list, territory_tree


def manager_required(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        from reps.selectors import user_is_manager

        if not user_is_manager(request.user):
            raise PermissionDenied("Only sales managers and admins can use this page.")
        return view(request, *args, **kwargs)

    return wrapper


def _run(request, action, success: str | None = None):
    """Call a service; show its ValidationError as a message instead of a server error."""
    try:
        result = action()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return None
    if success:
        messages.success(request, success.format(result=result))
    return result


@manager_required
def scenario_list_view(request):
    if request.method == "POST":
        _run(request, lambda: services.scenario_create(name=request.POST.get("name", ""),
                                                      description=request.POST.get("description", ""),
                                                      created_by=request.user), "Created {result.name}.")
        return redirect("territories:scenario-list")
    scenarios = list(scenario_list().order_by("-status", "name"))
    return render(request, "territories/scenario_list.html", {"scenarios": scenarios})


@manager_required
@require_POST
def scenario_command(request, pk: int, command: str):
    if command not in {"clone", "activate", "schedule", "rollback"}:
        raise Http404("Unknown command.")
    scenario = get_object_or_404(Scenario, pk=pk)
    if command == "clone":
        clone = _run(request, lambda: services.scenario_clone(scenario=scenario, name=request.POST.get("name") or None,
                                                              created_by=request.user), "Cloned as {result.name}.")
        return redirect("territories:scenario-detail", pk=clone.pk) if clone else redirect("territories:scenario-list")
    if command == "activate":
        _run(request, lambda: services.scenario_activate(scenario=scenario, actor=request.user),
             "{result.name} is now active.")
    elif command == "schedule":
        raw = request.POST.get("at", "")
        at = parse_datetime(raw) if raw else None
        if at is not None and timezone.is_naive(at):
            at = timezone.make_aware(at)
        if raw and at is None:
            messages.error(request, "Give the activation date and time.")
        else:
            _run(request, lambda: services.scenario_schedule_activation(scenario=scenario, at=at, actor=request.user),
                 "Activation scheduled." if at else "Schedule cancelled.")
    elif command == "rollback":
        _run(request, lambda: services.scenario_rollback(scenario=scenario, actor=request.user),
             "{result.name} is active again.")
    return redirect(request.POST.get("next") or "territories:scenario-list")


@manager_required
def scenario_detail(request, pk: int):
    scenario = get_object_or_404(Scenario, pk=pk)
    territories = list(Territory.objects.filter(scenario=scenario).order_by("depth", "code"))
    rules = AssignmentRule.objects.filter(territory__scenario=scenario).select_related("territory")
    rules_by_territory = {}
    for rule in rules.order_by("priority", "pk"):
        rules_by_territory.setdefault(rule.territory_id, []).append(rule)
    from accounts.selectors import allocation_run_list

    context = {
        "scenario": scenario, "tree": territory_tree(scenario=scenario), "territories": territories,
        "rules_by_territory": rules_by_territory, "territory_types": TerritoryType.objects.all(),
        "events": scenario.events.select_related("actor")[:20],
        "runs": allocation_run_list(scenario=scenario)[:5],
        "others": Scenario.objects.exclude(pk=scenario.pk).order_by("-status", "name"),
        "checks": services.territory_overlaps_and_gaps(scenario=scenario) if territories else None,
        "rule_fields": rule_field_kinds(),
    }
    return render(request, "territories/scenario_detail.html", context)


@manager_required
@require_POST
def territory_add(request, pk: int):
    scenario = get_object_or_404(Scenario, pk=pk)
    parent = Territory.objects.filter(scenario=scenario, pk=request.POST.get("parent") or 0).first()
    territory_type = TerritoryType.objects.filter(pk=request.POST.get("territory_type") or 0).first()
    _run(request, lambda: services.territory_create(
        scenario=scenario, name=request.POST.get("name", ""), code=request.POST.get("code", ""), parent=parent,
        territory_type=territory_type, level_name=request.POST.get("level_name", ""),
    ), "Added {result.code}.")
    return redirect("territories:scenario-detail", pk=pk)


@manager_required
@require_POST
def territory_move_view(request, pk: int):
    territory = get_object_or_404(Territory, pk=pk)
    parent = Territory.objects.filter(scenario=territory.scenario, pk=request.POST.get("parent") or 0).first()
    _run(request, lambda: services.territory_move(territory=territory, parent=parent), "Moved {result.code}.")
    return redirect("territories:scenario-detail", pk=territory.scenario_id)


@manager_required
@require_POST
def rule_save(request, pk: int):
    """Add a rule (or change one, with rule_id) from the rules editor; criteria are JSON."""
    scenario = get_object_or_404(Scenario, pk=pk)
    try:
        criteria = json.loads(request.POST.get("criteria") or "[]")
    except ValueError as exc:
        messages.error(request, f"Criteria are not valid JSON: {exc}")
        return redirect("territories:scenario-detail", pk=pk)
    try:
        priority = int(request.POST.get("priority") or 100)
    except ValueError:
        priority = -1
    fields = {"name": request.POST.get("name", ""), "criteria": criteria, "logic": request.POST.get("logic", "all"),
              "priority": priority, "within_boundary": bool(request.POST.get("within_boundary")),
              "applies_to_children": bool(request.POST.get("applies_to_children"))}
    rule_id = request.POST.get("rule_id")
    if rule_id:
        rule = get_object_or_404(AssignmentRule, pk=rule_id, territory__scenario=scenario)
        _run(request, lambda: services.rule_update(rule=rule, **fields), "Rule saved.")
    else:
        territory = get_object_or_404(Territory, pk=request.POST.get("territory") or 0, scenario=scenario)
        _run(request, lambda: services.rule_create(territory=territory, **fields), "Rule added.")
    return redirect("territories:scenario-detail", pk=pk)


@manager_required
@require_POST
def rule_delete(request, pk: int):
    rule = get_object_or_404(AssignmentRule.objects.select_related("territory"), pk=pk)
    scenario_id = rule.territory.scenario_id
    _run(request, lambda: services.rule_delete(rule=rule), "Rule deleted.")
    return redirect("territories:scenario-detail", pk=scenario_id)


@manager_required
def scenario_compare(request):
    scenarios = Scenario.objects.order_by("-status", "name")
    first, second = request.GET.get("a"), request.GET.get("b")
    result = None
    if first and second:
        result = services.scenario_compare(scenario_a=get_object_or_404(Scenario, pk=first),
                                           scenario_b=get_object_or_404(Scenario, pk=second))
    return render(request, "territories/scenario_compare.html",
                  {"scenarios": scenarios, "result": result, "a": first, "b": second})


@manager_required
def allocation_page(request, pk: int):
    """Preview or run the allocation as a job; the page follows the job and shows its outcome."""
    from accounts.tasks import allocation_run_task

    scenario = get_object_or_404(Scenario, pk=pk)
    if request.method == "POST":
        dry_run = request.POST.get("mode") != "run"
        if scenario.status == Scenario.Status.ARCHIVED:
            messages.error(request, "This scenario is archived; clone it to allocate accounts.")
            return redirect("territories:allocation", pk=pk)
        job = job_create(kind=Job.Kind.ALLOCATION_PREVIEW if dry_run else Job.Kind.ALLOCATION,
                         params={"scenario": pk, "dry_run": dry_run}, created_by=request.user)
        job_enqueue(job=job, task=allocation_run_task, args=(pk, dry_run, None, None))
        return redirect(f"{request.path}?job={job.pk}")
    job = None
    if request.GET.get("job"):
        job = get_object_or_404(Job, pk=request.GET["job"], kind__in=[Job.Kind.ALLOCATION,
                                                                        Job.Kind.ALLOCATION_PREVIEW])
    return render(request, "territories/allocation.html", {"scenario": scenario, "job": job})


@manager_required
def geo_unit_import_page(request):
    from core.api.uploads import upload_store
    from territories.tasks import geo_unit_import_task

    if request.method == "POST" and request.FILES.get("file"):
        from rest_framework.exceptions import ValidationError as ApiValidationError

        try:
            path = upload_store(file=request.FILES["file"], allowed_suffixes={".geojson", ".json", ".zip"})
        except ApiValidationError as exc:
            messages.error(request, str(exc.detail.get("file", exc.detail)))
            return redirect("territories:geo-unit-import")
        options = {"layer_name": request.POST.get("layer_name") or "Units", "code_field": request.POST.get(
            "code_field") or "code", "name_field": request.POST.get("name_field", ""),
            "kind": request.POST.get("kind", ""), "repair": bool(request.POST.get("repair")),
            "skip_bad_features": bool(request.POST.get("skip_bad_features"))}
        job = job_create(kind=Job.Kind.GEO_UNIT_IMPORT, params={"path": path, **options}, created_by=request.user)
        job_enqueue(job=job, task=geo_unit_import_task, args=(path, *options.values()))
        return redirect(f"{request.path}?job={job.pk}")
    job = Job.objects.filter(pk=request.GET.get("job") or 0, kind=Job.Kind.GEO_UNIT_IMPORT).first()
    return render(request, "territories/geo_unit_import.html", {"job": job})
