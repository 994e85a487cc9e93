"""REST endpoints: declarative viewsets over the selectors; commands are explicit POST actions."""

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from core.api.bulk import (
    BULK_TOO_LARGE_RESPONSE,
    BulkRejectedSerializer,
    bulk_items_over_limit,
    bulk_too_large_response,
)
from core.api.pagination import PageOrCursorPagination
from core.api_commands import IDEMPOTENCY_PARAMETER, JOB_ACCEPTED_EXAMPLE, idempotency_key, job_accepted_response
from performance.api.serializers import (
    ImportReportSerializer,
    JobReferenceSerializer,
    KpiFlagItemSerializer,
    KpiRecomputeSerializer,
    KpiSnapshotSerializer,
    OpportunityBulkDocumentedSerializer,
    OpportunityBulkReportSerializer,
    OpportunityBulkSerializer,
    OpportunityImportSerializer,
    OpportunitySerializer,
    QuotaRollupQuerySerializer,
    QuotaSerializer,
)
from performance.exports import kpi_snapshot_csv_rows
from performance.filters import KpiSnapshotFilterSet, OpportunityFilterSet, QuotaFilterSet
from performance.periods import Period, local_today, period_of
from performance.selectors import (
    kpi_flag_list,
    kpi_snapshot_list,
    opportunity_list,
    quota_list,
    quota_rollup,
    user_is_manager,
)
from performance.services.kpis import kpi_history_request, kpi_recompute_request
from performance.services.opportunities import opportunity_import, opportunity_save, opportunity_upsert
from performance.services.quotas import quota_delete, quota_save
from territories.models import Scenario
from territories.selectors import scenario_active

NO_SUCH_PAGE = OpenApiResponse(description="The page number is past the end of the list.")
INVALID_FILTER = OpenApiResponse(description="A filter value is invalid (for example an unknown scenario id).")


NOT_FOUND = OpenApiResponse(description="No such object, or not one this user may see.")
INVALID_BODY = OpenApiResponse(description="The body does not validate; the errors say why.")


def _listed(serializer_class, *, writable: bool = False):
    """Document the 400 of a bad filter value, the 404 of a page past the end or of an object out of reach."""
    views = {
        "list": extend_schema(responses={200: serializer_class(many=True), 400: INVALID_FILTER, 404: NO_SUCH_PAGE}),
        "retrieve": extend_schema(responses={200: serializer_class, 404: NOT_FOUND}),
    }
    if writable:
        views.update(
            create=extend_schema(responses={201: serializer_class, 400: INVALID_BODY}),
            update=extend_schema(responses={200: serializer_class, 400: INVALID_BODY, 404: NOT_FOUND}),
            partial_update=extend_schema(responses={200: serializer_class, 400: INVALID_BODY, 404: NOT_FOUND}),
            destroy=extend_schema(responses={204: None, 404: NOT_FOUND}),
        )
    return extend_schema_view(**views)


class IsManagerOrReadOnly(permissions.BasePermission):
    """Everyone signed in reads (querysets limit reps to their own rows); managers write."""

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in permissions.SAFE_METHODS or user_is_manager(request.user)


class IsManager(permissions.BasePermission):
    def has_permission(self, request, view):
        return user_is_manager(request.user)


def _scenario(pk: int | None) -> Scenario:
    if pk:
        return get_object_or_404(Scenario, pk=pk)
    scenario = scenario_active()
    if scenario is None:
        raise ValidationError({"scenario": "There is no active scenario; give one."})
    return scenario


@_listed(QuotaSerializer, writable=True)
class QuotaViewSet(viewsets.ModelViewSet):
    """Goals per territory or rep over explicit date ranges; reps read their own."""

    serializer_class = QuotaSerializer
    filterset_class = QuotaFilterSet
    permission_classes = [IsManagerOrReadOnly]
    ordering_fields = ["period_start", "target"]

    def get_queryset(self):
        return quota_list(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = quota_save(quota=serializer.Meta.model(**serializer.validated_data))

    def perform_update(self, serializer):
        for field, value in serializer.validated_data.items():
            setattr(serializer.instance, field, value)
        quota_save(quota=serializer.instance)

    def perform_destroy(self, instance):
        quota_delete(quota=instance)

    @extend_schema(parameters=[QuotaRollupQuerySerializer],
                   responses={200: dict, 400: INVALID_FILTER, 404: NOT_FOUND})
    @action(detail=False, methods=["get"], permission_classes=[IsManager])
    def rollup(self, request, *args, **kwargs):
        """Each territory's target for a period: its own quota, else the sum of its children's."""
        query = QuotaRollupQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        scenario = _scenario(query.validated_data.get("scenario"))
        period = Period(query.validated_data["period_start"], query.validated_data["period_end"])
        targets = quota_rollup(scenario=scenario, period=period, metric=query.validated_data["metric"])
        return Response({"scenario": scenario.pk, "metric": query.validated_data["metric"],
                         "period_start": period.start, "period_end": period.end,
                         "targets": {str(pk): str(value) for pk, value in sorted(targets.items())}})


@_listed(OpportunitySerializer, writable=True)
class OpportunityViewSet(viewsets.ModelViewSet):
    """Deals through their stages; reps read their own; managers edit and import CSV."""

    serializer_class = OpportunitySerializer
    filterset_class = OpportunityFilterSet
    pagination_class = PageOrCursorPagination  # large: integrations walk it with ?cursor=
    permission_classes = [IsManagerOrReadOnly]
    ordering_fields = ["close_date", "amount", "created_date"]

    def get_queryset(self):
        return opportunity_list(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = opportunity_save(opportunity=serializer.Meta.model(**serializer.validated_data))

    def perform_update(self, serializer):
        for field, value in serializer.validated_data.items():
            setattr(serializer.instance, field, value)
        opportunity_save(opportunity=serializer.instance)

    @extend_schema(request=OpportunityImportSerializer,
                   responses={200: ImportReportSerializer, 400: ImportReportSerializer})
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser])
    def import_csv(self, request, *args, **kwargs):
        """Import a CSV: 200 with the report when saved, 400 with the per-row report when rejected."""
        payload = OpportunityImportSerializer(data=request.data)
        if not payload.is_valid():  # answered in the report's own shape, like a rejected file
            report = [{"line": 0, "column": field, "message": f"{field}: {' '.join(str(m) for m in messages)}"}
                      for field, messages in payload.errors.items()]
            return Response({"rows": 0, "errors": len(report), "created": 0, "updated": 0, "skipped": 0,
                             "committed": False, "message": report[0]["message"], "report": report},
                            status=status.HTTP_400_BAD_REQUEST)
        summary = opportunity_import(file=payload.validated_data["file"],
                                     skip_bad_rows=payload.validated_data["skip_bad_rows"])
        return Response(summary, status=status.HTTP_200_OK if summary["committed"] else status.HTTP_400_BAD_REQUEST)

    @extend_schema(
        request=OpportunityBulkDocumentedSerializer,
        responses={200: OpportunityBulkReportSerializer, 400: BulkRejectedSerializer, 413: BULK_TOO_LARGE_RESPONSE},
        examples=[OpenApiExample("Two deals", request_only=True, value={
            "items": [{"external_id": "OPP-1", "account_external_id": "CRM-1001", "name": "Renewal 2026",
                       "stage": "proposal", "amount": "12000.00", "close_date": "2026-06-30"},
                      {"external_id": "OPP-2", "account_external_id": "CRM-1002", "name": "Expansion",
                       "stage": "won", "amount": "5000", "close_date": "2026-03-31", "rep_email": "ana@example.com"}],
            "skip_invalid": False})],
    )
    @action(detail=False, methods=["post"], permission_classes=[IsManager], parser_classes=[JSONParser])
    def bulk(self, request, *args, **kwargs):
        """Create or update up to 10,000 opportunities by external id in one transaction, validated like the CSV
        import's rows. One bad item saves nothing (400 with every bad item's index, field and message) unless
        `skip_invalid` is true. Larger sets: POST a CSV to /api/v1/opportunities/import/."""
        if (count := bulk_items_over_limit(request.data)) is not None:
            return bulk_too_large_response(count=count, import_path="/api/v1/opportunities/import/",
                                           runs_as_job=False)
        payload = OpportunityBulkSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        summary = opportunity_upsert(**payload.validated_data)
        if not summary["committed"]:
            return Response({"code": "invalid", **summary}, status=status.HTTP_400_BAD_REQUEST)
        return Response(summary)


@_listed(KpiSnapshotSerializer)
class KpiSnapshotViewSet(viewsets.ReadOnlyModelViewSet):
    """KPI snapshots per territory, rep, level and scenario and period; reps see their own rows only."""

    serializer_class = KpiSnapshotSerializer
    filterset_class = KpiSnapshotFilterSet
    ordering_fields = ["period_start", "computed_at"]

    def get_queryset(self):
        return kpi_snapshot_list(user=self.request.user)

    @extend_schema(request=KpiRecomputeSerializer, parameters=[IDEMPOTENCY_PARAMETER], examples=[JOB_ACCEPTED_EXAMPLE],
                   responses={202: JobReferenceSerializer, 400: INVALID_BODY, 404: NOT_FOUND})
    @action(detail=False, methods=["post"], permission_classes=[IsManager], parser_classes=[JSONParser, FormParser])
    def recompute(self, request, *args, **kwargs):
        """Queue a recompute and answer 202 with the job to poll at /api/v1/jobs/{id}/."""
        payload = KpiRecomputeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        scenario = _scenario(data.get("scenario"))
        key = idempotency_key(request)
        if data.get("history_months"):
            job = kpi_history_request(scenario=scenario, months=data["history_months"], user=request.user,
                                      idempotency_key=key)
        else:
            if data.get("period_start"):
                period = Period(data["period_start"], data["period_end"])
            else:
                period = period_of(data.get("period") or "month", data.get("date") or local_today())
            job = kpi_recompute_request(scenario=scenario, period=period, territory_ids=data.get("territory_ids"),
                                        user=request.user, idempotency_key=key)
        return job_accepted_response(job)

    @extend_schema(responses={(200, "text/csv"): OpenApiResponse(description="The filtered snapshots as CSV"),
                              400: INVALID_FILTER})
    @action(detail=False, methods=["get"])
    def export(self, request, *args, **kwargs):
        """The filtered snapshots as CSV, one column per metric."""
        queryset = self.filter_queryset(self.get_queryset())
        response = StreamingHttpResponse(kpi_snapshot_csv_rows(snapshots=queryset), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="kpi-snapshots.csv"'
        return response


@extend_schema_view(list=extend_schema(responses={200: KpiFlagItemSerializer(many=True), 400: INVALID_FILTER}))
class KpiFlagViewSet(viewsets.GenericViewSet):
    """Every flag of the filtered snapshots (under-performing, unbalanced ...), worst first, with a link to act."""

    serializer_class = KpiFlagItemSerializer
    filterset_class = KpiSnapshotFilterSet
    pagination_class = None

    def get_queryset(self):
        return kpi_snapshot_list(user=self.request.user)

    def list(self, request, *args, **kwargs):
        return Response(self.get_serializer(kpi_flag_list(snapshots=self.filter_queryset(self.get_queryset())),
                                            many=True).data)
