"""Viewsets of the accounts API: parse input, call one service or selector, render the result.

Reps read only their own book: every account queryset comes from accounts.selectors.account_list(user).
"""

from django.db.models import Q
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from accounts.api.serializers import (
    BULK_MAX_ITEMS,
    AccountBulkDocumentedSerializer,
    AccountBulkSerializer,
    AccountHistorySerializer,
    AccountImportSerializer,
    AccountOverrideSerializer,
    AccountSerializer,
    AlignmentRowSerializer,
    AllocationRequestSerializer,
    AllocationRunSerializer,
    AssignmentListSerializer,
    AssignmentSerializer,
    BulkReportSerializer,
)
from accounts.filters import AccountFilterSet, AccountOverrideFilterSet
from accounts.models import AccountAssignment, AccountOverride
from accounts.selectors import (
    account_alignment_attach,
    account_assignment_history,
    account_list,
    account_list_with_alignment,
    account_owner_at,
    alignment_at,
    allocation_run_list,
)
from accounts.services.accounts import account_create, account_update
from accounts.services.exports import account_export_csv_rows, account_export_geojson_chunks
from accounts.services.imports import account_upsert
from accounts.services.overrides import override_create, override_deactivate
from core.api.bulk import BULK_TOO_LARGE_RESPONSE, BulkRejectedSerializer, bulk_too_large_response
from core.api.filtering import FilterWhenAskedMixin
from core.api.pagination import PageOrCursorPagination, PagePagination
from core.api.permissions import IsManager, IsManagerOrReadOnly, user_is_manager
from core.api.schema import ErrorDocumentingAutoSchema
from core.api.serializers import JobAcceptedSerializer, requested_fields
from core.api.uploads import upload_store
from core.api_commands import IDEMPOTENCY_PARAMETER, JOB_ACCEPTED_EXAMPLE, command_accept, command_replay
from core.models import Job
from territories.models import Scenario


def parse_moment(value: str | None):
    """An ISO datetime or date from a query parameter (a date means the end of that day)."""
    import datetime as dt

    from django.utils import timezone

    if not value:
        return None
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise ValidationError({"at": "Give an ISO date or datetime, e.g. 2026-03-31 or 2026-03-31T12:00:00Z."})
        moment = dt.datetime.combine(day, dt.time.max)
    try:
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment.astimezone(dt.UTC)  # PostgreSQL refuses offsets beyond ±15:59
    except (OverflowError, ValueError):
        raise ValidationError({"at": "That date is out of range."}) from None


AT_PARAMETER = OpenApiParameter("at", OpenApiTypes.DATETIME, description="ISO date or datetime (default: now)")


ACCOUNT_FIELDS_PARAMETER = OpenApiParameter(
    "fields", str, description="Comma-separated fields to send, e.g. `id,external_id,name,potential`; leaving out "
                               "the territory and owner fields also spares the database their lookups.")


@extend_schema_view(list=extend_schema(parameters=[ACCOUNT_FIELDS_PARAMETER]),
                    retrieve=extend_schema(parameters=[ACCOUNT_FIELDS_PARAMETER]))
class AccountViewSet(FilterWhenAskedMixin, viewsets.ModelViewSet):
    """Accounts with their current territory and owner; reps see only theirs and cannot write."""

    pagination_class = PageOrCursorPagination
    schema = ErrorDocumentingAutoSchema()

    serializer_class = AccountSerializer
    permission_classes = [IsManagerOrReadOnly]
    filterset_class = AccountFilterSet
    ordering_fields = ["name", "external_id", "annual_revenue", "potential"]

    def get_queryset(self):
        fields = requested_fields(self.request)
        without_alignment = fields is not None and not set(fields) & set(AccountSerializer.ALIGNMENT_FIELDS)
        if without_alignment or self.action in {"retrieve", "history"}:  # retrieve attaches it (see there)
            return account_list(user=self.request.user).order_by("name", "pk")
        return account_list_with_alignment(user=self.request.user).order_by("name", "pk")

    def retrieve(self, request, *args, **kwargs):
        # One account: its alignment from a query of lateral joins rather than the list's correlated subqueries,
        # which cost more to plan than to run for a single row.
        account = account_alignment_attach(accounts=[self.get_object()])[0]
        return Response(self.get_serializer(account).data)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        account = account_create(external_id=data.pop("external_id"), name=data.pop("name"),
                                 actor=self.request.user, **data)
        serializer.instance = self.get_queryset().get(pk=account.pk)

    def perform_update(self, serializer):
        account = account_update(account=serializer.instance, actor=self.request.user, **serializer.validated_data)
        serializer.instance = self.get_queryset().get(pk=account.pk)

    @extend_schema(parameters=[AT_PARAMETER], responses=AccountHistorySerializer)
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """Who owned the account at `at` (territory, rep, why) and every assignment it ever had."""
        account = self.get_object()
        at = parse_moment(request.query_params.get("at"))
        owner = account_owner_at(account=account, at=at)
        territory = owner["territory"]
        payload = {
            "at": at, "scenario": owner["scenario"].pk if owner["scenario"] else None,
            "territory": {"id": territory.pk, "code": territory.code, "name": territory.name} if territory else None,
            "rep": owner["rep"], "reason": owner["reason"],
            "history": AssignmentSerializer(account_assignment_history(account=account), many=True).data,
        }
        return Response(payload)

    @extend_schema(
        parameters=[OpenApiParameter("file_format", str, enum=["csv", "geojson"]),
                    OpenApiParameter("scenario", int, description="Default: the active scenario")],
        responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/geo+json"): OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["get"])
    def export(self, request):
        """All accounts in the caller's scope (filters apply) with territory, rep and reason; streamed."""
        file_format = request.query_params.get("file_format", "csv")
        scenario = None
        if request.query_params.get("scenario"):
            scenario = get_object_or_404(Scenario, pk=request.query_params["scenario"])
        queryset = self.filter_queryset(account_list_with_alignment(user=request.user, scenario=scenario))
        return account_export_response(queryset.order_by("external_id"), file_format)

    @extend_schema(
        request=AccountBulkDocumentedSerializer,
        responses={200: BulkReportSerializer, 400: BulkRejectedSerializer, 413: BULK_TOO_LARGE_RESPONSE},
        examples=[OpenApiExample("Two accounts", request_only=True, value={
            "items": [{"external_id": "CRM-1001", "name": "Acme Corp", "city": "Austin", "state": "TX",
                       "location": {"type": "Point", "coordinates": [-97.74, 30.27]}, "potential": "250000.00"},
                      {"external_id": "CRM-1002", "name": "Globex", "longitude": -96.8, "latitude": 32.78,
                       "tier": "A"}],
            "skip_invalid": False})],
    )
    @action(detail=False, methods=["post"], permission_classes=[IsManager], parser_classes=[JSONParser])
    def bulk(self, request):
        """Create or update up to 10,000 accounts by external id in one transaction. Each item changes only the
        fields it gives. One bad item saves nothing (400 with every bad item's index, field and message) unless
        `skip_invalid` is true. Larger sets: POST a CSV to /api/v1/accounts/import/ (a job)."""
        items = request.data.get("items") if isinstance(request.data, dict) else None
        if isinstance(items, list) and len(items) > BULK_MAX_ITEMS:
            return bulk_too_large_response(count=len(items), import_path="/api/v1/accounts/import/")
        payload = AccountBulkSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        summary = account_upsert(**payload.validated_data)
        if not summary["committed"]:
            return Response({"code": "invalid", **summary}, status=status.HTTP_400_BAD_REQUEST)
        return Response(summary)

    @extend_schema(request={"multipart/form-data": AccountImportSerializer}, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={202: JobAcceptedSerializer}, examples=[JOB_ACCEPTED_EXAMPLE])
    @action(detail=False, methods=["post"], url_path="import", permission_classes=[IsManager],
            parser_classes=[MultiPartParser, FormParser])
    def import_file(self, request):
        """Upload a CSV or GeoJSON; the import runs as a job whose result holds the per-row report."""
        from accounts.tasks import account_import_task

        payload = AccountImportSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        options = dict(payload.validated_data)
        if (replay := command_replay(request)) is not None:
            return replay
        path = upload_store(file=options.pop("file"), allowed_suffixes={".csv", ".geojson", ".json"})
        return command_accept(
            request, kind=Job.Kind.ACCOUNT_IMPORT, params={"path": path, **options}, task=account_import_task,
            args=(path, None, options["skip_bad_rows"], options.get("scenario"), options["reallocate"]),
        )


def account_export_response(queryset, file_format: str) -> StreamingHttpResponse:
    if file_format == "geojson":
        response = StreamingHttpResponse(account_export_geojson_chunks(accounts=queryset),
                                         content_type="application/geo+json")
        response["Content-Disposition"] = 'attachment; filename="accounts.geojson"'
        return response
    if file_format != "csv":
        raise ValidationError({"file_format": "Use csv or geojson."})
    response = StreamingHttpResponse(account_export_csv_rows(accounts=queryset), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="accounts.csv"'
    return response


class AccountOverrideViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                             mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Manual assignments and exclusions; DELETE withdraws one (it stays in the history)."""

    pagination_class = PagePagination
    schema = ErrorDocumentingAutoSchema()
    serializer_class = AccountOverrideSerializer
    permission_classes = [IsManager]
    filterset_class = AccountOverrideFilterSet

    def get_queryset(self):
        return AccountOverride.objects.select_related("account", "territory").order_by("-created_at")

    def perform_create(self, serializer):
        serializer.instance = override_create(created_by=self.request.user, **serializer.validated_data)

    def perform_destroy(self, instance):
        override_deactivate(override=instance, actor=self.request.user)


class AllocationViewSet(viewsets.ViewSet):
    """Allocation commands: both answer 202 with a job to poll at /api/v1/jobs/{id}/."""

    permission_classes = [IsManager]
    schema = ErrorDocumentingAutoSchema()

    def _start(self, request, *, dry_run: bool):
        from accounts.tasks import allocation_run_task

        payload = AllocationRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        scenario = get_object_or_404(Scenario, pk=data["scenario"])
        if scenario.status == Scenario.Status.ARCHIVED:
            raise ValidationError({"scenario": "This scenario is archived; clone it to allocate accounts."})
        kind = Job.Kind.ALLOCATION_PREVIEW if dry_run else Job.Kind.ALLOCATION
        params = {"scenario": scenario.pk, "dry_run": dry_run, "account_ids": data.get("account_ids"),
                  "territory_ids": data.get("territory_ids")}
        return command_accept(request, kind=kind, params=params, task=allocation_run_task,
                              args=(scenario.pk, dry_run, data.get("account_ids"), data.get("territory_ids")))

    @extend_schema(request=AllocationRequestSerializer, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={202: JobAcceptedSerializer}, examples=[JOB_ACCEPTED_EXAMPLE])
    @action(detail=False, methods=["post"])
    def preview(self, request):
        """A dry run: moves from -> to, unassigned accounts and multi-matches, with nothing changed."""
        return self._start(request, dry_run=True)

    @extend_schema(request=AllocationRequestSerializer, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={202: JobAcceptedSerializer}, examples=[JOB_ACCEPTED_EXAMPLE])
    @action(detail=False, methods=["post"])
    def run(self, request):
        """Allocate and write: changed assignments are closed and new ones recorded with their reason."""
        return self._start(request, dry_run=False)


class AllocationRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Stored outcomes of allocation runs and previews."""

    pagination_class = PagePagination
    schema = ErrorDocumentingAutoSchema()

    serializer_class = AllocationRunSerializer
    permission_classes = [IsManager]
    filterset_fields = ["scenario", "is_preview"]

    def get_queryset(self):
        return allocation_run_list().order_by("-created_at")


class AlignmentViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The whole alignment as of a date: every account's territory and owner rep then."""

    pagination_class = PagePagination
    schema = ErrorDocumentingAutoSchema()

    serializer_class = AlignmentRowSerializer
    permission_classes = [IsManager]

    @extend_schema(parameters=[AT_PARAMETER, OpenApiParameter("scenario", int, description="Default: the scenario "
                                                                                           "in force at `at`")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        at = parse_moment(self.request.query_params.get("at"))
        scenario = None
        if self.request.query_params.get("scenario"):
            scenario = get_object_or_404(Scenario, pk=self.request.query_params["scenario"])
        return alignment_at(at=at, scenario=scenario)


AS_OF_PARAMETER = OpenApiParameter(
    "as_of", OpenApiTypes.DATETIME,
    description="Only the assignments in force at this moment (an ISO date means the end of that day; `now` is "
                "accepted). Without `scenario`, the scenario in force then.")


@extend_schema_view(list=extend_schema(parameters=[AS_OF_PARAMETER]))
class AssignmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Effective-dated account assignments (the whole history, or those in force `as_of` a moment); reps read
    those of their own accounts. Large: walk it with `?cursor=`."""

    pagination_class = PageOrCursorPagination
    schema = ErrorDocumentingAutoSchema()
    serializer_class = AssignmentListSerializer
    filterset_fields = ["scenario", "account", "territory", "source", "run"]

    def get_queryset(self):
        from territories.selectors import scenario_active_at

        queryset = AccountAssignment.objects.select_related("account", "territory", "scenario", "rule")
        if getattr(self, "swagger_fake_view", False):
            return queryset.none()
        if not user_is_manager(self.request.user):
            queryset = queryset.filter(account__in=account_list(user=self.request.user).values("pk"))
        raw = self.request.query_params.get("as_of")
        if raw:
            try:
                moment = timezone.now() if raw.strip().lower() == "now" else parse_moment(raw)
            except ValidationError:
                raise ValidationError({"as_of": "Give an ISO date or datetime, e.g. 2026-03-31, or now."}) from None
            queryset = queryset.filter(valid_from__lte=moment).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=moment))
            if not self.request.query_params.get("scenario"):
                scenario = scenario_active_at(at=moment)
                queryset = queryset.filter(scenario=scenario) if scenario else queryset.none()
        return queryset.order_by("account_id", "-valid_from", "pk")
