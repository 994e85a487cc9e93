"""What every command endpoint shares: the Idempotency-Key header and a 202 reply naming the job."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

IDEMPOTENCY_HEADER = "Idempotency-Key"

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Any unique string (at most 200 characters, e.g. a UUID). Sending the same key again returns the "
                "job the first request created instead of queueing the command a second time.",
)
JOB_ACCEPTED_EXAMPLE = OpenApiExample(
    "Queued", value={"job": 42, "status": "queued", "url": "/api/v1/jobs/42/"}, response_only=True,
    status_codes=["202"],
)


def idempotency_key(request) -> str:
    """The caller's Idempotency-Key header ('' when absent); a retried POST with it returns the same job."""
    key = (request.headers.get(IDEMPOTENCY_HEADER) or "").strip()
    if len(key) > 200:
        raise ValidationError({IDEMPOTENCY_HEADER: "Use at most 200 characters."})
    return key


def job_accepted_response(job) -> Response:
    return Response(
        {"job": job.pk, "status": job.status, "url": f"/api/v1/jobs/{job.pk}/"},
        status=status.HTTP_202_ACCEPTED,
        headers={"Location": f"/api/v1/jobs/{job.pk}/"},
    )


def command_replay(request) -> Response | None:
    """The 202 of the job an earlier request with this Idempotency-Key made (None when the key is new or absent).

    Commands that store an upload first call this, so a retried upload is not stored a second time."""
    from core.models import Job

    key = idempotency_key(request)
    if not key or not request.user.is_authenticated:
        return None
    job = Job.objects.filter(created_by=request.user, idempotency_key=key).first()
    return job_accepted_response(job) if job is not None else None


def command_accept(request, *, kind: str, params: dict, task, args: tuple = ()) -> Response:
    """Create the command's job (or find the one this Idempotency-Key already made), queue it once, answer 202."""
    from core.services import job_create, job_enqueue

    job = job_create(kind=kind, params=params, created_by=request.user, idempotency_key=idempotency_key(request))
    job_enqueue(job=job, task=task, args=args)
    return job_accepted_response(job)
