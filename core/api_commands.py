"""What every command endpoint shares: the Idempotency-Key header and a 202 reply naming the job."""

from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

IDEMPOTENCY_HEADER = "Idempotency-Key"


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
