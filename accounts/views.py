"""Account pages: list (shared FilterSet), detail (owner, territory, why, history, activities), import, export."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render

from accounts.filters import AccountFilterSet
from accounts.selectors import account_assignment_history, account_list_with_alignment, account_owner_at
from accounts.services.allocation import allocation_reason
from core.models import Job
from core.services import job_create, job_enqueue
from territories.models import Scenario
from territories.views import manager_required


@login_required
def account_list(request):
    filterset = AccountFilterSet(request.GET, queryset=account_list_with_alignment(user=request.user))
    page = Paginator(filterset.qs.order_by("name", "pk"), 50).get_page(request.GET.get("page"))
    return render(request, "accounts/account_list.html", {"filter": filterset, "page": page,
                                                          "query": request.GET.urlencode()})


@login_required
def account_detail(request, pk: int):
    """Reps reach only their own accounts (404 otherwise)."""
    from accounts.api.views import parse_moment

    account = get_object_or_404(account_list_with_alignment(user=request.user), pk=pk)
    at = None
    if request.GET.get("at"):
        try:
            at = parse_moment(request.GET["at"])
        except Exception:  # a malformed date: show today's answer and say so
            messages.error(request, "Give the date as YYYY-MM-DD.")
    owner = account_owner_at(account=account, at=at)
    history = [(assignment, allocation_reason(assignment))
               for assignment in account_assignment_history(account=account)]
    activities = account.activities.select_related("rep").order_by("-occurred_at")[:20]
    return render(request, "accounts/account_detail.html", {
        "account": account, "owner": owner, "at": at, "history": history, "activities": activities,
    })


@manager_required
def account_import(request):
    from accounts.tasks import account_import_task
    from core.api.uploads import upload_store

    if request.method == "POST" and request.FILES.get("file"):
        from rest_framework.exceptions import ValidationError as ApiValidationError

        try:
            path = upload_store(file=request.FILES["file"], allowed_suffixes={".csv", ".geojson", ".json"})
        except ApiValidationError as exc:
            messages.error(request, str(exc.detail.get("file", exc.detail)))
            return redirect("accounts:account-import")
        scenario_id = int(request.POST["scenario"]) if request.POST.get("scenario") else None
        options = {"skip_bad_rows": bool(request.POST.get("skip_bad_rows")), "scenario": scenario_id,
                   "reallocate": bool(request.POST.get("reallocate"))}
        job = job_create(kind=Job.Kind.ACCOUNT_IMPORT, params={"path": path, **options}, created_by=request.user)
        job_enqueue(job=job, task=account_import_task,
                    args=(path, None, options["skip_bad_rows"], scenario_id, options["reallocate"]))
        return redirect(f"{request.path}?job={job.pk}")
    job = Job.objects.filter(pk=request.GET.get("job") or 0, kind=Job.Kind.ACCOUNT_IMPORT).first()
    scenarios = Scenario.objects.exclude(status=Scenario.Status.ARCHIVED).order_by("-status", "name")
    return render(request, "accounts/account_import.html", {"job": job, "scenarios": scenarios})


@login_required
def account_export(request):
    """The filtered accounts (the list's filters apply) as CSV or GeoJSON."""
    from accounts.api.views import account_export_response

    scenario = None
    if request.GET.get("scenario"):
        scenario = get_object_or_404(Scenario, pk=request.GET["scenario"])
    filterset = AccountFilterSet(request.GET, queryset=account_list_with_alignment(user=request.user,
                                                                                 scenario=scenario))
    return account_export_response(filterset.qs.order_by("external_id"), request.GET.get("file_format", "csv"))
