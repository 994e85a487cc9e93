"""Viewsets of the territories API: parse input, call one service or selector, render the result."""

import math

from django.contrib.gis.db.models.functions import GeomOutputGeoFunc
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Value
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework_gis.filters import InBBoxFilter

from core.api.concurrency import expected_version, version_check
from core.api.pagination import GeoJsonPagePagination, PagePagination
from core.api.permissions import IsManager, IsManagerOrReadOnly
from core.api.schema import ErrorDocumentingAutoSchema
from core.api.serializers import JobAcceptedSerializer, requested_fields
from core.api.uploads import upload_store
from core.api_commands import (
    IDEMPOTENCY_PARAMETER,
    JOB_ACCEPTED_EXAMPLE,
    command_accept,
    command_replay,
)
from core.models import Job
from territories import services
from territories.api.optimize import ScenarioOptimizeSerializer, TradeoffPointSerializer
from territories.api.serializers import (
    AssignmentRuleSerializer,
    GeoUnitImportSerializer,
    GeoUnitLayerSerializer,
    GeoUnitSerializer,
    ScenarioCloneSerializer,
    ScenarioCompareSerializer,
    ScenarioComparisonSerializer,
    ScenarioEventSerializer,
    ScenarioScheduleSerializer,
    ScenarioSerializer,
    TerritoryMoveSerializer,
    TerritorySerializer,
    TerritoryTypeSerializer,
    TerritoryUnitsSerializer,
)
from territories.filters import AssignmentRuleFilterSet, GeoUnitFilterSet, ScenarioFilterSet, TerritoryFilterSet
from territories.models import (
    AssignmentRule,
    GeoUnit,
    GeoUnitLayer,
    OptimizerAlternative,
    Scenario,
    Territory,
    TerritoryType,
)
from territories.selectors import scenario_list


class ScenarioViewSet(viewsets.ModelViewSet):
    """Scenarios and their lifecycle commands: clone, activate, schedule, rollback, compare."""

    pagination_class = PagePagination
    schema = ErrorDocumentingAutoSchema()

    serializer_class = ScenarioSerializer
    permission_classes = [IsManagerOrReadOnly]
    filterset_class = ScenarioFilterSet
    ordering_fields = ["name", "created_at", "status"]

    def get_queryset(self):
        return scenario_list().order_by("-status", "name")

    def perform_create(self, serializer):
        serializer.instance = services.scenario_create(
            name=serializer.validated_data["name"], description=serializer.validated_data.get("description", ""),
            created_by=self.request.user,
        )

    @transaction.atomic
    def perform_update(self, serializer):
        # If-Match: <version> makes the write conditional (409 when another manager saved in between).
        version_check(queryset=Scenario.objects, pk=serializer.instance.pk, expected=expected_version(self.request),
                      label=f'Scenario "{serializer.instance.name}"')
        serializer.instance = services.scenario_update(
            scenario=serializer.instance, name=serializer.validated_data.get("name"),
            description=serializer.validated_data.get("description"), actor=self.request.user,
        )

    def perform_destroy(self, instance):
        services.scenario_ensure_editable(scenario=instance)
        instance.delete()

    @extend_schema(request=ScenarioCloneSerializer, responses={201: ScenarioSerializer})
    @action(detail=True, methods=["post"])
    def clone(self, request, pk=None):
        payload = ScenarioCloneSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        clone = services.scenario_clone(scenario=self.get_object(), name=payload.validated_data.get("name") or None,
                                        created_by=request.user)
        return Response(ScenarioSerializer(clone).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, parameters=[IDEMPOTENCY_PARAMETER], responses={202: JobAcceptedSerializer},
                   examples=[JOB_ACCEPTED_EXAMPLE])
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        """Queue the activation (the active scenario is archived in the same transaction); poll the job."""
        from territories.tasks import scenario_activate_task

        scenario = self.get_object()
        if scenario.status == Scenario.Status.ACTIVE:
            raise ValidationError(f'Scenario "{scenario.name}" is already active.')
        return command_accept(request, kind=Job.Kind.ACTIVATION, params={"scenario": scenario.pk},
                              task=scenario_activate_task, args=(scenario.pk,))

    @extend_schema(request=ScenarioScheduleSerializer, responses=ScenarioSerializer)
    @action(detail=True, methods=["post"])
    def schedule(self, request, pk=None):
        payload = ScenarioScheduleSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        scenario = services.scenario_schedule_activation(scenario=self.get_object(), at=payload.validated_data["at"],
                                                         actor=request.user)
        return Response(ScenarioSerializer(scenario).data)

    @extend_schema(request=None, parameters=[IDEMPOTENCY_PARAMETER], responses={202: JobAcceptedSerializer},
                   examples=[JOB_ACCEPTED_EXAMPLE])
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        """Queue putting the previously active scenario back in force (this one returns to planning)."""
        from territories.tasks import scenario_rollback_task

        scenario = self.get_object()
        if scenario.status != Scenario.Status.ACTIVE:
            raise ValidationError("Only the active scenario can be rolled back.")
        if scenario.previous_active_id is None:
            raise ValidationError(f'Scenario "{scenario.name}" has no previously active scenario to roll back to.')
        return command_accept(request, kind=Job.Kind.ROLLBACK, params={"scenario": scenario.pk},
                              task=scenario_rollback_task, args=(scenario.pk,))

    @extend_schema(request=ScenarioOptimizeSerializer, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={202: JobAcceptedSerializer}, examples=[JOB_ACCEPTED_EXAMPLE])
    @action(detail=True, methods=["post"])
    def optimize(self, request, pk=None):
        """Queue an optimiser run (design or realign) of the leaf territories; the job's result names the new
        planning scenario and its report. k above the number of units or an unknown measure answer 400 at once."""
        from territories.services.optimizer_runs import optimizer_run_check
        from territories.tasks import optimizer_run_task

        scenario = self.get_object()
        replay = command_replay(request)
        if replay is not None:
            return replay
        payload = ScenarioOptimizeSerializer(data=request.data, context={"scenario": scenario})
        payload.is_valid(raise_exception=True)
        params = payload.job_params()
        try:
            optimizer_run_check(scenario=scenario, k=params["k"], mode=params["mode"],
                                balance={name: tuple(target) for name, target in params["balance"].items()},
                                parent=payload.validated_data.get("parent"))
        except DjangoValidationError as exc:
            raise ValidationError({"detail": exc.messages[0]}) from exc
        return command_accept(request, kind=Job.Kind.OPTIMIZER, params=dict(params, scenario=scenario.pk),
                              task=optimizer_run_task, args=(scenario.pk, params))

    @extend_schema(responses=TradeoffPointSerializer(many=True))
    @action(detail=True, methods=["get"])
    def tradeoff(self, request, pk=None):
        """A realignment's plan (this scenario) and its points at tighter and looser tolerances: balance against
        disruption. Empty for scenarios no realignment wrote."""
        from territories.services.optimizer_runs import tradeoff_rows

        return Response(TradeoffPointSerializer(tradeoff_rows(scenario=self.get_object()), many=True).data)

    @extend_schema(request=None, parameters=[IDEMPOTENCY_PARAMETER], responses={202: JobAcceptedSerializer},
                   examples=[JOB_ACCEPTED_EXAMPLE])
    @action(detail=True, methods=["post"], url_path=r"tradeoff/(?P<alternative_id>[0-9]+)/adopt")
    def tradeoff_adopt(self, request, pk=None, alternative_id=None):
        """Queue making a trade-off point a planning scenario of the realignment's source (the job names it)."""
        from territories.services.optimizer_runs import optimizer_alternative_adopt_check
        from territories.tasks import optimizer_alternative_adopt_task

        scenario = self.get_object()
        alternative = get_object_or_404(OptimizerAlternative.objects.defer("changes"), pk=alternative_id, run=scenario)
        try:
            optimizer_alternative_adopt_check(alternative=alternative)
        except DjangoValidationError as exc:
            raise ValidationError({"detail": exc.messages[0]}) from exc
        return command_accept(request, kind=Job.Kind.OPTIMIZER,
                              params={"scenario": scenario.pk, "alternative": alternative.pk},
                              task=optimizer_alternative_adopt_task, args=(alternative.pk,))

    @extend_schema(request=ScenarioCompareSerializer, responses=ScenarioComparisonSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsManagerOrReadOnly])
    def compare(self, request, pk=None):
        payload = ScenarioCompareSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        result = services.scenario_compare(scenario_a=self.get_object(), scenario_b=payload.validated_data["other"])
        return Response(ScenarioComparisonSerializer(result).data)

    @extend_schema(responses=ScenarioEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def events(self, request, pk=None):
        events = self.get_object().events.all()
        return Response(ScenarioEventSerializer(events, many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("parent", int, description="Only the children of this territory"),
                    OpenApiParameter("min_area_m2", float, description="Ignore slivers smaller than this")],
        responses={200: dict},
    )
    @action(detail=True, methods=["get"], url_path="overlaps-and-gaps")
    def overlaps_and_gaps(self, request, pk=None):
        scenario = self.get_object()
        parent = None
        if request.query_params.get("parent"):
            parent = get_object_or_404(Territory, pk=request.query_params["parent"], scenario=scenario)
        min_area = float(request.query_params.get("min_area_m2", 1.0))
        return Response(services.territory_overlaps_and_gaps(scenario=scenario, parent=parent, min_area_m2=min_area))


class SimplifyPreserveTopology(GeomOutputGeoFunc):
    """PostGIS's ST_SimplifyPreserveTopology: fewer vertices, never an invalid or vanished polygon; kept a
    MultiPolygon like the full boundary (PostGIS hands back a Polygon when only one part is left)."""

    function = "ST_SimplifyPreserveTopology"
    template = "ST_Multi(%(function)s(%(expressions)s))"


SIMPLIFY_PARAMETER = OpenApiParameter(
    "simplify", float, description="Send each boundary simplified to this tolerance in degrees (0 < tolerance <= 1; "
                                   "0.01 is about 1 km), for maps at low zoom.")
FIELDS_PARAMETER = OpenApiParameter(
    "fields", str, description="Comma-separated properties to send (e.g. `code,name`); the boundary is null unless "
                               "`boundary` is named, which saves most of the bandwidth.")


@extend_schema_view(list=extend_schema(parameters=[FIELDS_PARAMETER, SIMPLIFY_PARAMETER]),
                    retrieve=extend_schema(parameters=[FIELDS_PARAMETER, SIMPLIFY_PARAMETER]))
class TerritoryViewSet(viewsets.ModelViewSet):
    """Territories as GeoJSON features; filter by scenario, parent, depth, type and the map's bbox."""

    serializer_class = TerritorySerializer
    permission_classes = [IsManagerOrReadOnly]
    filterset_class = TerritoryFilterSet
    filter_backends = [*viewsets.ModelViewSet.filter_backends, InBBoxFilter]
    bbox_filter_field = "boundary"
    bbox_filter_include_overlapping = True
    pagination_class = GeoJsonPagePagination
    # A GeoJSON feature is JSON; as form fields its properties would arrive as text and could not be read.
    parser_classes = [JSONParser]
    schema = ErrorDocumentingAutoSchema()
    ordering_fields = ["code", "name", "depth"]

    def get_queryset(self):
        queryset = Territory.objects.select_related("territory_type").order_by("scenario_id", "depth", "code")
        fields = requested_fields(self.request)
        if fields is not None and "boundary" not in fields:
            return queryset.defer("boundary")  # not read from the database either
        tolerance = self._simplify_tolerance()
        if tolerance is not None:
            queryset = queryset.annotate(boundary_simplified=SimplifyPreserveTopology("boundary", Value(tolerance)))
            return queryset.defer("boundary")
        return queryset

    def _simplify_tolerance(self) -> float | None:
        raw = self.request.query_params.get("simplify") if self.request.method in ("GET", "HEAD") else None
        if raw is None:
            return None
        try:
            tolerance = float(raw)
        except ValueError:
            tolerance = math.nan
        if not 0 < tolerance <= 1:
            raise ValidationError({"simplify": "Give a tolerance in degrees greater than 0 and at most 1, e.g. 0.01."})
        return tolerance

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "simplify": self._simplify_tolerance()}

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.territory_create(
            scenario=data["scenario"], name=data["name"], code=data["code"], parent=data.get("parent"),
            territory_type=data.get("territory_type"), level_name=data.get("level_name", ""),
            boundary=data.get("boundary"), color=data.get("color", ""), repair=data.get("repair", True),
        )

    @transaction.atomic
    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        territory = serializer.instance
        # If-Match: <version> makes the write conditional (409 when another manager saved in between).
        version_check(queryset=Territory.objects, pk=territory.pk, expected=expected_version(self.request),
                      label=f"Territory {territory.code}")
        repair = data.pop("repair", True)
        data.pop("scenario", None)
        data.pop("id", None)
        if "parent" in data and data["parent"] != territory.parent:
            territory = services.territory_move(territory=territory, parent=data["parent"])
        data.pop("parent", None)
        if "boundary" in data:
            services.territory_boundary_set(territory=territory, boundary=data.pop("boundary"), repair=repair)
        if data:
            territory = services.territory_update(territory=territory, **data)
        territory.refresh_from_db()
        serializer.instance = territory

    def perform_destroy(self, instance):
        services.territory_delete(territory=instance)

    @extend_schema(request=TerritoryMoveSerializer, responses=TerritorySerializer)
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        payload = TerritoryMoveSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        territory = services.territory_move(territory=self.get_object(), parent=payload.validated_data["parent"])
        return Response(TerritorySerializer(territory).data)

    @extend_schema(request=TerritoryUnitsSerializer, responses={200: dict})
    @action(detail=True, methods=["post"])
    def units(self, request, pk=None):
        payload = TerritoryUnitsSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return Response(services.territory_units_set(territory=self.get_object(), **payload.validated_data))


class TerritoryTypeViewSet(viewsets.ModelViewSet):
    """Territory types and their priorities (lower wins when an account fits several at one level)."""

    pagination_class = PagePagination
    schema = ErrorDocumentingAutoSchema()
    serializer_class = TerritoryTypeSerializer
    permission_classes = [IsManagerOrReadOnly]
    queryset = TerritoryType.objects.order_by("priority")

    def perform_create(self, serializer):
        serializer.instance = services.territory_type_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.territory_type_update(territory_type=serializer.instance,
                                                             **serializer.validated_data)


class GeoUnitLayerViewSet(viewsets.ReadOnlyModelViewSet):
    """Layers of imported geo units."""

    pagination_class = PagePagination
    schema = ErrorDocumentingAutoSchema()
    serializer_class = GeoUnitLayerSerializer
    queryset = GeoUnitLayer.objects.order_by("name")


class GeoUnitViewSet(viewsets.ReadOnlyModelViewSet):
    """Geo units as GeoJSON features, filtered by layer, code prefix and bbox; POST import/ loads a file."""

    serializer_class = GeoUnitSerializer
    filterset_class = GeoUnitFilterSet
    filter_backends = [*viewsets.ReadOnlyModelViewSet.filter_backends, InBBoxFilter]
    bbox_filter_field = "geometry"
    bbox_filter_include_overlapping = True
    pagination_class = GeoJsonPagePagination
    schema = ErrorDocumentingAutoSchema()
    queryset = GeoUnit.objects.order_by("layer_id", "code")

    @extend_schema(request={"multipart/form-data": GeoUnitImportSerializer}, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={202: JobAcceptedSerializer}, examples=[JOB_ACCEPTED_EXAMPLE])
    @action(detail=False, methods=["post"], url_path="import", permission_classes=[IsManager],
            parser_classes=[MultiPartParser, FormParser])
    def import_file(self, request):
        """Upload a GeoJSON or zipped shapefile; the import runs as a job whose result holds the report."""
        from territories.tasks import geo_unit_import_task

        payload = GeoUnitImportSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        options = dict(payload.validated_data)
        if (replay := command_replay(request)) is not None:
            return replay
        path = upload_store(file=options.pop("file"), allowed_suffixes={".geojson", ".json", ".zip"})
        return command_accept(
            request, kind=Job.Kind.GEO_UNIT_IMPORT, params={"path": path, **options}, task=geo_unit_import_task,
            args=(path, options["layer_name"], options["code_field"], options["name_field"], options["kind"],
                  options["repair"], options["skip_bad_features"]),
        )


class AssignmentRuleViewSet(viewsets.ModelViewSet):
    """Assignment rules; criteria are validated against the account fields and operators."""

    pagination_class = PagePagination
    schema = ErrorDocumentingAutoSchema()

    serializer_class = AssignmentRuleSerializer
    permission_classes = [IsManagerOrReadOnly]
    filterset_class = AssignmentRuleFilterSet

    def get_queryset(self):
        return AssignmentRule.objects.select_related("territory").order_by("territory_id", "priority", "pk")

    def perform_create(self, serializer):
        serializer.instance = services.rule_create(**serializer.validated_data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("territory", None)
        serializer.instance = services.rule_update(rule=serializer.instance, **data)

    def perform_destroy(self, instance):
        services.rule_delete(rule=instance)
