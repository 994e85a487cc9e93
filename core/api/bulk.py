"""What every bulk upsert endpoint shares: the size limit, its 413 answer and the per-item report."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers, status
from rest_framework.response import Response

from core.api.schema import ApiErrorSerializer

BULK_MAX_ITEMS = 10_000

BULK_TOO_LARGE_RESPONSE = OpenApiResponse(
    ApiErrorSerializer, description=f"More than {BULK_MAX_ITEMS:,} items: send them as a CSV import, which runs as "
                                    "a job.")


def bulk_too_large_response(*, count: int, import_path: str | None, runs_as_job: bool = True) -> Response:
    """More than one request should carry: say so, and where large sets go (a CSV import, run as a job, when there
    is one; otherwise several requests)."""
    if import_path is None:
        advice = f"send larger sets in several requests of at most {BULK_MAX_ITEMS:,}."
    else:
        advice = f"send larger sets as a CSV file to POST {import_path}" + (", which runs as a job." if runs_as_job
                                                                             else ".")
    return Response(
        {"code": "too_large", "message": f"{count:,} items is more than the {BULK_MAX_ITEMS:,} one request takes; "
                                         + advice},
        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )


def bulk_items_over_limit(data) -> int | None:
    """The number of items when a request's `items` list is over the limit (checked before any validation)."""
    items = data.get("items") if isinstance(data, dict) else None
    return len(items) if isinstance(items, list) and len(items) > BULK_MAX_ITEMS else None


class BulkItemErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's position in `items`, from 0.")
    field = serializers.CharField()
    message = serializers.CharField()


class BulkReportBaseSerializer(serializers.Serializer):
    """What a bulk upsert did: counts, and every bad item (index, field, message); `committed` says if it saved."""

    code = serializers.CharField(required=False, help_text='"invalid" when nothing was saved.')
    message = serializers.CharField()
    items = serializers.IntegerField()
    errors = serializers.IntegerField()
    report = BulkItemErrorSerializer(many=True)
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    skipped = serializers.IntegerField()
    committed = serializers.BooleanField()


class BulkRejectedSerializer(serializers.Serializer):
    """400: nothing was saved. Bad items give the report (every bad item's index, field and message) with the
    counts; a malformed request (no items list, say) gives `errors` as the fields' messages instead."""

    code = serializers.CharField()
    message = serializers.CharField()
    errors = serializers.JSONField(help_text="How many items are bad, or the request's field errors.")
    report = BulkItemErrorSerializer(many=True, required=False)
    items = serializers.IntegerField(required=False)
    created = serializers.IntegerField(required=False)
    updated = serializers.IntegerField(required=False)
    unchanged = serializers.IntegerField(required=False)
    skipped = serializers.IntegerField(required=False)
    committed = serializers.BooleanField(required=False)
