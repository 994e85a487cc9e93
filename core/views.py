from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse

from core.health import health_report
from core.models import Job
from core.roles import SALES_REP, user_role


def healthz(request):
    report = health_report()
    return JsonResponse(report, status=200 if report["ok"] else 503)


@login_required
def home(request):
    """Send each role to the page it lives in."""
    target = "reps:my-book" if user_role(request.user) == SALES_REP else "workspace:index"
    try:
        return redirect(reverse(target))
    except NoReverseMatch:
        return render(request, "home.html", {"role": user_role(request.user)})


@login_required
def job_detail(request, pk: int):
    job = get_object_or_404(Job, pk=pk)
    if not request.user.is_manager and job.created_by_id != request.user.pk:
        return JsonResponse({"detail": "Not found."}, status=404)
    payload = {"id": job.pk, "kind": job.kind, "status": job.status, "progress": job.progress,
               "message": job.message, "result": job.result, "error": job.message if job.error else ""}
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse(payload)
    return render(request, "core/job_detail.html", {"job": job})
