"""Viewsets of the reps API: parse input, call one service or selector, render the result.

Every queryset is cut to the user's scope by reps.selectors, so a rep never reaches another rep's data and a
manager only reaches their teams' part of the hierarchy; objects outside the scope answer 404.
"""

import datetime as dt

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from config.db_router import using_replica
from core.api.bulk import (
    BULK_TOO_LARGE_RESPONSE,
    BulkRejectedSerializer,
    bulk_items_over_limit,
    bulk_too_large_response,
)
from core.api.filtering import NOT_FILTER_PARAMETERS, FilterWhenAskedMixin
from core.api.pagination import CountWithPagePagination, PageOrCursorPagination
from performance.models import Activity
from reps import services
from reps.api.bulk import (
    ActivityBulkDocumentedSerializer,
    ActivityBulkReportSerializer,
    ActivityBulkSerializer,
    activity_bulk_log,
)
from reps.api.serializers import (
    ActivitySerializer,
    BookAccountSerializer,
    CallPlanQuerySerializer,
    CallPlanSerializer,
    CoverageSerializer,
    MatchAcceptSerializer,
    MatchProposalRequestSerializer,
    MatchResultSerializer,
    RepAssignmentEndSerializer,
    RepAssignmentSerializer,
    RepSerializer,
    TeamSerializer,
    VacancySerializer,
    VisitCadenceSerializer,
    WorkloadSerializer,
)
from reps.call_plans import call_plan_build, call_plan_ics, week_start_for
from reps.coverage import (
    RankedBook,
    account_book_list,
    account_list_for_user,
    coverage_account_list,
    coverage_by_rep,
    coverage_by_territory,
    territory_workload,
)
from reps.filters import (
    ActivityFilterSet,
    BookAccountFilterSet,
    BookOrderingFilter,
    RepAssignmentFilterSet,
    RepFilterSet,
)
from reps.matching import rep_territory_match_proposal
from reps.models import Rep, RepAssignment, VisitCadence
from reps.pagination import BookPaginator
from reps.selectors import (
    rep_assignment_list,
    rep_editable_list,
    rep_for_user,
    rep_list,
    team_list,
    territory_ids_for_user,
    territory_ids_staffable,
    territory_vacancy_list,
    user_is_manager,
)
from territories.models import Scenario
from territories.selectors import scenario_active


def _service(function, **kwargs):
    """Call a service and turn Django's validation errors into the API's 400 answers."""
    try:
        return function(**kwargs)
    except DjangoValidationError as exc:
        raise ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages) from exc


class IsManagerOrReadOnly(permissions.BasePermission):
    """Reads for every signed-in user (within their scope); writes for managers and admins."""

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        return request.method in permissions.SAFE_METHODS or user_is_manager(request.user)


class IsManager(permissions.BasePermission):
    def has_permission(self, request, view):
        return user_is_manager(request.user)


_SCENARIO_PARAMETER = OpenApiParameter("scenario", int, description="Scenario id; default: the active scenario.")


def _scenario_from(request) -> Scenario:
    raw = request.query_params.get("scenario")
    if raw:
        try:
            return get_object_or_404(Scenario, pk=int(raw))
        except (TypeError, ValueError) as exc:
            raise ValidationError({"scenario": "A scenario id is a number."}) from exc
    scenario = scenario_active()
    if scenario is None:
        raise ValidationError({"scenario": "There is no active scenario; give a scenario id."})
    return scenario


class TeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                  mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Teams of reps and their managers; a manager sees and changes only their own teams."""

    serializer_class = TeamSerializer
    permission_classes = [IsManagerOrReadOnly]

    def get_queryset(self):
        return team_list(user=self.request.user).annotate(rep_count=Count("reps")).order_by("name")

    def perform_create(self, serializer):
        team = _service(services.team_create, user=self.request.user, **serializer.validated_data)
        team.rep_count = 0  # answered with its rep_count, as the list is and the schema says
        serializer.instance = team

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        team = _service(services.team_update, user=self.request.user, team=serializer.instance,
                        name=data.get("name"), manager=data.get("manager", ...))
        team.rep_count = team.reps.count()
        serializer.instance = team


class RepViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                 mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Rep profiles: home, expertise, seniority, capacity; managers see and change the reps of their teams."""

    serializer_class = RepSerializer
    permission_classes = [IsManagerOrReadOnly]
    filterset_class = RepFilterSet
    ordering_fields = ["name", "seniority", "capacity_hours"]

    def get_queryset(self):
        return rep_list(user=self.request.user).order_by("name")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = _service(services.rep_create, user=self.request.user, **data)

    def perform_update(self, serializer):
        serializer.instance = _service(services.rep_update, user=self.request.user, rep=serializer.instance,
                                       **serializer.validated_data)


@extend_schema_view(create=extend_schema(
    description="Put a rep (or a vacancy: rep null) on a territory from valid_from; for the owner role the "
                "previous owner's assignment is closed that day and kept."))
class RepAssignmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                           viewsets.GenericViewSet):
    """Effective-dated rep assignments; never edited or deleted, so the history is kept for ever."""

    serializer_class = RepAssignmentSerializer
    permission_classes = [IsManagerOrReadOnly]
    filterset_class = RepAssignmentFilterSet

    def get_queryset(self):
        return rep_assignment_list(user=self.request.user).order_by("territory__code", "role", "-valid_from", "-pk")

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = _service(
            services.rep_assign, territory=data["territory"], rep=data.get("rep"),
            role=data.get("role", RepAssignment.Role.OWNER), valid_from=data.get("valid_from"),
            note=data.get("note", ""), user=self.request.user,
        )

    @extend_schema(request=RepAssignmentEndSerializer, responses=RepAssignmentSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        """End an overlay or specialist assignment (owners are replaced by a new assignment instead)."""
        body = RepAssignmentEndSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        assignment = _service(services.rep_assignment_end, assignment=self.get_object(),
                              valid_to=body.validated_data.get("valid_to"), user=request.user)
        return Response(RepAssignmentSerializer(assignment).data)

    @extend_schema(parameters=[_SCENARIO_PARAMETER], responses=VacancySerializer(many=True))
    @action(detail=False, methods=["get"])
    def vacancies(self, request):
        """Leaf territories without an owner today, since when, and who owned them last."""
        scenario = _scenario_from(request)
        vacancies = territory_vacancy_list(scenario=scenario, territory_ids=territory_ids_for_user(user=request.user))
        return Response(VacancySerializer(vacancies, many=True).data)


class VisitCadenceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                          mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """How often each account tier is visited and how long a visit takes; managers change them."""

    serializer_class = VisitCadenceSerializer
    permission_classes = [IsManagerOrReadOnly]
    queryset = VisitCadence.objects.all()
    pagination_class = None

    def perform_create(self, serializer):
        serializer.instance = _service(services.visit_cadence_set, user=self.request.user,
                                       **serializer.validated_data)

    def perform_update(self, serializer):
        data = serializer.validated_data
        cadence = serializer.instance
        serializer.instance = _service(
            services.visit_cadence_set, user=self.request.user, tier=data.get("tier", cadence.tier),
            visits_per_year=data.get("visits_per_year", cadence.visits_per_year),
            minutes_per_visit=data.get("minutes_per_visit", cadence.minutes_per_visit),
        )


class ActivityViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Visits, calls, e-mails and meetings on the accounts a user may see; a rep logs as themselves."""

    serializer_class = ActivitySerializer
    filterset_class = ActivityFilterSet
    pagination_class = PageOrCursorPagination  # large: integrations walk it with ?cursor=
    ordering_fields = ["occurred_at"]

    def get_queryset(self):
        accounts = account_list_for_user(user=self.request.user).values("pk")
        return Activity.objects.filter(account__in=accounts).select_related("account", "rep").order_by(
            "-occurred_at", "-pk"
        )

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = _service(services.activity_log, user=self.request.user, **data)

    def perform_update(self, serializer):
        serializer.instance = _service(services.activity_update, activity=serializer.instance,
                                       user=self.request.user, **serializer.validated_data)

    @extend_schema(
        request=ActivityBulkDocumentedSerializer,
        responses={200: ActivityBulkReportSerializer, 400: BulkRejectedSerializer, 413: BULK_TOO_LARGE_RESPONSE},
        examples=[OpenApiExample("Two visits", request_only=True, value={
            "items": [{"account_external_id": "CRM-1001", "kind": "visit", "occurred_at": "2026-03-02T10:00:00Z",
                       "duration_minutes": 45, "outcome": "Demo booked"},
                      {"account_external_id": "CRM-1002", "kind": "call", "occurred_at": "2026-03-02T14:30:00Z"}],
            "skip_invalid": False})],
    )
    @action(detail=False, methods=["post"], parser_classes=[JSONParser])
    def bulk(self, request):
        """Log up to 10,000 activities in one transaction (each item creates one: activities have no external
        id). The account is given by its external id and must be in your book; a rep logs as themselves, a manager
        may name one of their reps. One bad item saves nothing (400 with every bad item's index, field and
        message) unless `skip_invalid` is true."""
        if (count := bulk_items_over_limit(request.data)) is not None:
            return bulk_too_large_response(count=count, import_path=None)
        payload = ActivityBulkSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        summary = activity_bulk_log(user=request.user, **payload.validated_data)
        if not summary["committed"]:
            return Response({"code": "invalid", **summary}, status=status.HTTP_400_BAD_REQUEST)
        return Response(summary)


class CoverageViewSet(viewsets.GenericViewSet):
    """Visit coverage against cadence per territory and per rep, and the accounts behind the numbers."""

    serializer_class = CoverageSerializer
    filter_backends: list = []

    @extend_schema(parameters=[_SCENARIO_PARAMETER], responses=CoverageSerializer)
    def list(self, request):
        scenario = _scenario_from(request)
        territory_ids = territory_ids_for_user(user=request.user)
        rep_ids = None if territory_ids is None else list(rep_list(user=request.user).values_list("pk", flat=True))
        payload = {
            "scenario": scenario.pk,
            "territories": [row.as_dict() for row in coverage_by_territory(scenario=scenario,
                                                                            territory_ids=territory_ids)],
            "reps": [row.as_dict() for row in coverage_by_rep(scenario=scenario, rep_ids=rep_ids)],
        }
        return Response(CoverageSerializer(payload).data)

    def _accounts(self, request, status_name):
        scenario = _scenario_from(request)
        territory_ids = territory_ids_for_user(user=request.user)
        territory = request.query_params.get("territory")
        if territory:
            if territory_ids is not None and int(territory) not in territory_ids:
                raise Http404
            territory_ids = {int(territory)}
        accounts = coverage_account_list(scenario=scenario, territory_ids=territory_ids, status=status_name)
        page = self.paginate_queryset(accounts)
        return self.get_paginated_response(BookAccountSerializer(page, many=True).data)

    _account_parameters = [_SCENARIO_PARAMETER, OpenApiParameter("territory", int, description="One territory.")]

    @extend_schema(parameters=_account_parameters, responses=BookAccountSerializer(many=True))
    @action(detail=False, methods=["get"])
    def overdue(self, request):
        """Accounts whose last visit is older than their tier's cadence, most overdue first."""
        return self._accounts(request, "overdue")

    @extend_schema(parameters=_account_parameters, responses=BookAccountSerializer(many=True))
    @action(detail=False, methods=["get"])
    def never(self, request):
        """Accounts with a cadence that have never been visited."""
        return self._accounts(request, "never")


class WorkloadViewSet(viewsets.GenericViewSet):
    """Yearly hours per territory (visits x (visit time + travel)) against the owner's capacity."""

    serializer_class = WorkloadSerializer
    filter_backends: list = []
    pagination_class = None

    @extend_schema(parameters=[_SCENARIO_PARAMETER], responses=WorkloadSerializer(many=True))
    def list(self, request):
        scenario = _scenario_from(request)
        rows = territory_workload(scenario=scenario, territory_ids=territory_ids_for_user(user=request.user))
        return Response(WorkloadSerializer([row.as_dict() for row in rows], many=True).data)


class RepMatchViewSet(viewsets.GenericViewSet):
    """Propose owners for a scenario's territories (an optimal assignment on a stated score) and accept them."""

    permission_classes = [IsManager]
    serializer_class = MatchResultSerializer
    filter_backends: list = []

    @extend_schema(request=MatchProposalRequestSerializer, responses=MatchResultSerializer)
    @action(detail=False, methods=["post"])
    def proposal(self, request):
        body = MatchProposalRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        scenario = get_object_or_404(Scenario, pk=data["scenario"])
        reps = rep_editable_list(user=request.user).filter(is_active=True, role=Rep.Role.FIELD)
        if "reps" in data:
            reps = reps.filter(pk__in=data["reps"])
        staffable = territory_ids_staffable(user=request.user, scenario=scenario)
        territory_ids = [pk for pk in data["territories"] if pk in set(staffable)] if "territories" in data \
            else staffable
        try:
            result = rep_territory_match_proposal(
                scenario, reps=list(reps), territory_ids=territory_ids, weights=data.get("weights"),
                **({"travel_scale_km": data["travel_scale_km"]} if "travel_scale_km" in data else {}),
            )
        except ValueError as exc:
            raise ValidationError({"weights": str(exc)}) from exc
        payload = {**result.__dict__, "proposals": [p.as_dict() for p in result.proposals]}
        return Response(MatchResultSerializer(payload).data)

    @extend_schema(request=MatchAcceptSerializer, responses={201: RepAssignmentSerializer(many=True)})
    @action(detail=False, methods=["post"])
    def accept(self, request):
        """Make the accepted pairs (all of a proposal, or some) the territories' owners from valid_from."""
        body = MatchAcceptSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        pairs = [(pair["territory"], pair["rep"]) for pair in body.validated_data["pairs"]]
        assignments = _service(services.match_accept, pairs=pairs, user=request.user,
                               valid_from=body.validated_data.get("valid_from"))
        return Response(RepAssignmentSerializer(assignments, many=True).data, status=status.HTTP_201_CREATED)


def _plan_from(request):
    query = CallPlanQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    data = query.validated_data
    if "rep" in data:
        rep = rep_list(user=request.user).filter(pk=data["rep"]).first()
    else:
        rep = rep_for_user(user=request.user)
    if rep is None:
        raise Http404("No such rep in your scope.")
    week = data.get("week") or timezone.localdate() + dt.timedelta(days=7)
    return call_plan_build(rep=rep, week_start=week_start_for(week), max_stops_per_day=data.get("max_stops_per_day"))


class CallPlanViewSet(viewsets.GenericViewSet):
    """A rep's week of visits: due accounts within capacity, spread over the days, routed from home."""

    serializer_class = CallPlanSerializer
    filter_backends: list = []
    pagination_class = None

    @extend_schema(parameters=[CallPlanQuerySerializer], responses=CallPlanSerializer)
    def list(self, request):
        return Response(CallPlanSerializer(_plan_from(request)).data)

    @extend_schema(parameters=[CallPlanQuerySerializer], responses={(200, "text/calendar"): OpenApiTypes.STR})
    @action(detail=False, methods=["get"])
    def ics(self, request):
        """The same plan as an iCalendar file to import into a calendar."""
        plan = _plan_from(request)
        response = HttpResponse(call_plan_ics(plan, host=request.get_host().split(":")[0]),
                                content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="call-plan-{plan.week_start}.ics"'
        return response


class BookPagination(CountWithPagePagination):
    django_paginator_class = BookPaginator


class MyAccountViewSet(FilterWhenAskedMixin, viewsets.ReadOnlyModelViewSet):
    """The signed-in user's book as GeoJSON features, what needs attention first; others' accounts are 404."""

    serializer_class = BookAccountSerializer
    filterset_class = BookAccountFilterSet
    filter_backends = [DjangoFilterBackend, BookOrderingFilter]
    pagination_class = BookPagination  # a book's rows are found and ranked once, not again to count them
    ordering_fields = ["name", "potential", "days_overdue", "open_amount"]

    def get_queryset(self):
        return account_book_list(user=self.request.user)

    def list(self, request, *args, **kwargs):
        # The busiest read of the app: served by the read replica when there is one (a second of lag on a book
        # page is acceptable; the writes that follow go to the primary).
        with using_replica():
            if set(request.query_params) - NOT_FILTER_PARAMETERS:  # filtered or re-ordered: the annotated queryset
                return super().list(request, *args, **kwargs)
            # The book as it comes: ranked on the keys of its order, then only the page's rows read in full.
            page = self.paginate_queryset(RankedBook(user=request.user))
            return self.get_paginated_response(self.get_serializer(page, many=True).data)

