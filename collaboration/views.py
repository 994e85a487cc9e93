"""Pages: change requests, threads, notifications, sales plans and shared read-only scenario views.

Every page parses input, calls one service or selector and renders; permissions live in the services.
"""

import datetime as dt
import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import AccountAssignment
from collaboration.models import ChangeRequest, SalesPlan, SalesPlanAction, SalesPlanGoal, ShareLink
from collaboration.selectors.plans import sales_plan_can_approve, sales_plan_can_edit, sales_plan_list
from collaboration.selectors.requests import (
    change_request_can_decide,
    change_request_is_stale,
    change_request_list,
)
from collaboration.selectors.scope import user_is_manager, user_territory_scope
from collaboration.selectors.sharing import scenario_share_view
from collaboration.selectors.threads import (
    comment_list,
    comment_target_get,
    comment_target_visible,
    notification_list,
    notification_unread_count,
)
from collaboration.services import change_requests as request_services
from collaboration.services import plans as plan_services
from collaboration.services.comments import comment_add
from collaboration.services.notifications import notification_mark_read
from collaboration.services.sharing import ShareLinkGone, share_link_create, share_link_resolve, share_link_revoke
from collaboration.urls_helpers import target_url
from territories.models import Scenario, Territory


def _errors(request, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


def _scenarios_for(user):
    scope = user_territory_scope(user=user)
    scenarios = Scenario.objects.exclude(status=Scenario.Status.ARCHIVED)
    if scope is not None:
        scenarios = scenarios.filter(territories__in=scope).distinct()
    return scenarios.order_by("-status", "name")


# ---- change requests -------------------------------------------------------------------------------------------
@login_required
def request_list(request):
    requests = change_request_list(user=request.user).order_by("-created_at")
    status = request.GET.get("status")
    if status:
        requests = requests.filter(status=status)
    return render(request, "collaboration/request_list.html", {
        "requests": requests[:200], "statuses": ChangeRequest.Status.choices, "status": status,
        "unread": notification_unread_count(user=request.user),
    })


@login_required
def request_create(request):
    scenarios = list(_scenarios_for(request.user))
    scenario = next((s for s in scenarios if str(s.pk) == request.GET.get("scenario", request.POST.get("scenario"))),
                    None) or next((s for s in scenarios if s.status == Scenario.Status.ACTIVE), None) or (
        scenarios[0] if scenarios else None)
    if request.method == "POST" and scenario is not None:
        kind = request.POST.get("kind", ChangeRequest.Kind.MOVE_ACCOUNTS)
        try:
            if kind == ChangeRequest.Kind.MOVE_ACCOUNTS:
                payload = {"account_ids": request.POST.getlist("account_ids"),
                           "to_territory_id": request.POST.get("to_territory_id")}
            else:
                payload = json.loads(request.POST.get("payload") or "{}")
            created = request_services.change_request_create(
                user=request.user, scenario=scenario, kind=kind, payload=payload, reason=request.POST.get("reason", ""))
        except json.JSONDecodeError:
            messages.error(request, "The payload is not valid JSON.")
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, f"Request #{created.pk} filed; the impact is below.")
            return redirect("collaboration:request-detail", created.pk)
    scope = user_territory_scope(user=request.user)
    assignments = AccountAssignment.objects.none()
    territories = Territory.objects.none()
    if scenario is not None:
        assignments = AccountAssignment.objects.filter(scenario=scenario, valid_to__isnull=True).select_related(
            "account", "territory").order_by("territory__code", "account__name")
        if scope is not None:
            assignments = assignments.filter(territory_id__in=scope)
        territories = Territory.objects.filter(scenario=scenario, children__isnull=True).order_by("code")
    return render(request, "collaboration/request_form.html", {
        "scenarios": scenarios, "scenario": scenario, "assignments": assignments[:1000], "territories": territories,
        "kinds": ChangeRequest.Kind.choices, "form": request.POST,
    })


def _visible_request(request, pk) -> ChangeRequest:
    change_request = get_object_or_404(change_request_list(user=request.user), pk=pk)
    return change_request


@login_required
def request_detail(request, pk):
    change_request = _visible_request(request, pk)
    return render(request, "collaboration/request_detail.html", {
        "change_request": change_request, "impact": change_request.impact,
        "can_decide": change_request.status == "pending" and change_request_can_decide(
            user=request.user, change_request=change_request),
        "is_proposer": change_request.proposed_by_id == request.user.pk,
        "is_stale": change_request_is_stale(change_request=change_request),
        "comments": comment_list(target=change_request), "target_type": "changerequest",
    })


@login_required
@require_POST
def request_decide(request, pk):
    change_request = _visible_request(request, pk)
    try:
        request_services.change_request_decide(user=request.user, change_request=change_request,
                                               decision=request.POST.get("decision", ""),
                                               note=request.POST.get("note", ""))
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, "Decision recorded.")
    return redirect("collaboration:request-detail", pk)


@login_required
@require_POST
def request_refresh(request, pk):
    change_request = _visible_request(request, pk)
    try:
        request_services.change_request_refresh(user=request.user, change_request=change_request)
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, "The impact was recomputed on the current alignment.")
    return redirect("collaboration:request-detail", pk)


@login_required
@require_POST
def request_withdraw(request, pk):
    change_request = _visible_request(request, pk)
    try:
        request_services.change_request_withdraw(user=request.user, change_request=change_request)
    except ValidationError as exc:
        _errors(request, exc)
    return redirect("collaboration:request-detail", pk)


# ---- threads and notifications ---------------------------------------------------------------------------------
@login_required
def thread(request, target_type, pk):
    target = comment_target_get(target_type=target_type, target_id=pk)
    if target is None or not comment_target_visible(user=request.user, target=target):
        raise Http404
    return render(request, "collaboration/thread.html", {
        "target": target, "target_type": target_type, "comments": comment_list(target=target)})


@login_required
@require_POST
def comment_create(request, target_type, pk):
    target = comment_target_get(target_type=target_type, target_id=pk)
    if target is None or not comment_target_visible(user=request.user, target=target):
        raise Http404
    try:
        comment_add(user=request.user, target=target, body=request.POST.get("body", ""))
    except ValidationError as exc:
        _errors(request, exc)
    return redirect(target_url(target) or "collaboration:request-list")


@login_required
def notification_page(request):
    return render(request, "collaboration/notifications.html", {
        "notifications": notification_list(user=request.user)[:200],
        "unread": notification_unread_count(user=request.user)})


@login_required
@require_POST
def notification_read(request):
    ids = [int(pk) for pk in request.POST.getlist("ids") if pk.isdigit()] or None
    notification_mark_read(user=request.user, notification_ids=ids)
    return redirect(request.POST.get("next") or "collaboration:notifications")


# ---- sales plans -----------------------------------------------------------------------------------------------
@login_required
def plan_list(request):
    scope = user_territory_scope(user=request.user)
    territories = Territory.objects.filter(scenario__status=Scenario.Status.ACTIVE).order_by("code")
    if scope is not None:
        territories = territories.filter(pk__in=scope)
    return render(request, "collaboration/plan_list.html", {
        "plans": sales_plan_list(user=request.user)[:200], "territories": territories})


@login_required
@require_POST
def plan_create(request):
    territory = get_object_or_404(Territory, pk=request.POST.get("territory"))
    try:
        plan = plan_services.sales_plan_create(
            user=request.user, territory=territory,
            period_start=dt.date.fromisoformat(request.POST.get("period_start", "")),
            period_end=dt.date.fromisoformat(request.POST.get("period_end", "")),
            strategy=request.POST.get("strategy", ""))
    except ValueError:
        messages.error(request, "Give the period as two dates.")
    except ValidationError as exc:
        _errors(request, exc)
    else:
        return redirect("collaboration:plan-detail", plan.pk)
    return redirect("collaboration:plan-list")


@login_required
def plan_detail(request, pk):
    plan = get_object_or_404(sales_plan_list(user=request.user), pk=pk)
    return render(request, "collaboration/plan_detail.html", {
        "plan": plan, "goals": plan.goals.select_related("quota"), "actions": plan.actions.select_related("owner"),
        "key_accounts": plan.key_accounts.order_by("name"),
        "can_edit": sales_plan_can_edit(user=request.user, plan=plan),
        "can_approve": sales_plan_can_approve(user=request.user, plan=plan),
        "can_review": plan.status == SalesPlan.Status.APPROVED and timezone.localdate() >= plan.period_end,
        "metrics": SalesPlanGoal.Metric.choices, "comments": comment_list(target=plan), "target_type": "salesplan",
    })


def _plan_step(request, plan: SalesPlan, step: str):
    post, user = request.POST, request.user
    if step == "update":
        ids = [int(pk) for pk in post.get("key_account_ids", "").replace(",", " ").split() if pk.isdigit()]
        return plan_services.sales_plan_update(user=user, plan=plan, strategy=post.get("strategy"),
                                               key_account_ids=ids if "key_account_ids" in post else None)
    if step == "goal":
        return plan_services.sales_plan_goal_add(user=user, plan=plan, metric=post.get("metric", ""),
                                                 target=post.get("target", ""), description=post.get("description", ""))
    if step == "action":
        try:
            due = dt.date.fromisoformat(post.get("due_date", ""))
        except ValueError:
            raise ValidationError({"due_date": "Give a due date."}) from None
        return plan_services.sales_plan_action_add(user=user, plan=plan, description=post.get("description", ""),
                                                   due_date=due)
    if step == "done":
        action = get_object_or_404(SalesPlanAction, pk=post.get("action"), plan=plan)
        return plan_services.sales_plan_action_set_done(user=user, action=action, is_done=post.get("is_done") != "0")
    if step == "submit":
        return plan_services.sales_plan_submit(user=user, plan=plan)
    if step == "approve":
        return plan_services.sales_plan_approve(user=user, plan=plan, note=post.get("note", ""))
    if step == "return":
        return plan_services.sales_plan_return(user=user, plan=plan, note=post.get("note", ""))
    if step == "review":
        return plan_services.sales_plan_review(user=user, plan=plan, comment=post.get("comment", ""))
    raise Http404


@login_required
@require_POST
def plan_step(request, pk, step):
    plan = get_object_or_404(sales_plan_list(user=request.user), pk=pk)
    try:
        _plan_step(request, plan, step)
    except ValidationError as exc:
        _errors(request, exc)
    return redirect("collaboration:plan-detail", pk)


# ---- shared read-only views ------------------------------------------------------------------------------------
@login_required
def share_manage(request, pk):
    scenario = get_object_or_404(Scenario, pk=pk)
    if not user_is_manager(request.user):
        raise PermissionDenied
    new_url = None
    if request.method == "POST":
        try:
            if request.POST.get("revoke"):
                share_link_revoke(user=request.user, link=get_object_or_404(ShareLink, pk=request.POST["revoke"],
                                                                            scenario=scenario))
            else:
                day = dt.date.fromisoformat(request.POST.get("expires_on", ""))
                expires_at = timezone.make_aware(dt.datetime.combine(day, dt.time(23, 59, 59)))
                _link, token = share_link_create(user=request.user, scenario=scenario, expires_at=expires_at,
                                                 label=request.POST.get("label", ""))
                new_url = request.build_absolute_uri(reverse("collaboration:shared", args=[token]))
        except ValueError:
            messages.error(request, "Choose an expiry date.")
        except ValidationError as exc:
            _errors(request, exc)
    return render(request, "collaboration/share_manage.html", {
        "scenario": scenario, "links": scenario.share_links.select_related("created_by"), "new_url": new_url,
        "default_expiry": timezone.localdate() + dt.timedelta(days=14), "now": timezone.now()})


def shared_view(request, token):
    """The read-only map and tables behind a share link; no account needed. Dead links answer 410."""
    try:
        link = share_link_resolve(token=token)
    except ShareLink.DoesNotExist:
        raise Http404("This link is not valid.") from None
    except ShareLinkGone as gone:
        return render(request, "collaboration/shared_gone.html", {"why": gone.why}, status=410)
    if request.GET.get("format") not in {None, "", "html"}:
        return HttpResponseBadRequest("Only the page is shared.")
    view = scenario_share_view(scenario=link.scenario)
    return render(request, "collaboration/shared_view.html", {
        "link": link, "scenario": link.scenario, "tile_url": settings.MAP_TILE_URL, **view})
