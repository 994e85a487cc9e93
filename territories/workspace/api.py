"""JSON and tile endpoints of the map workspace: parse, call one selector or service, answer."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from rest_framework import permissions, serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response

from territories.models import Scenario, ScenarioEdit
from territories.services import scenario_compare as scenario_compare_service
from territories.workspace import selectors, services


class IsManager(permissions.BasePermission):
    """Managers and admins design territories; reps have their own view."""

    message = "The map workspace is for sales managers."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_manager)


def _error(exc: services.WorkspaceError) -> Response:
    conflict = isinstance(exc, services.ScenarioVersionConflict | services.ScenarioNotEditable |
                          services.TerritoryLocked)
    return Response({"code": exc.code, "message": exc.message},
                    status=status.HTTP_409_CONFLICT if conflict else status.HTTP_400_BAD_REQUEST)


def _bad_request(message: str) -> Response:
    return Response({"code": "invalid", "message": message}, status=status.HTTP_400_BAD_REQUEST)


def _zoom(request: Request) -> int:
    try:
        return max(0, min(int(request.query_params.get("zoom", 6)), 22))
    except ValueError:
        return 6


@api_view(["GET"])
@permission_classes([IsManager])
def scenario_tree(request: Request, scenario_id: int) -> Response:
    scenario = get_object_or_404(Scenario, pk=scenario_id)
    return Response({
        "scenario": {"id": scenario.pk, "name": scenario.name, "status": scenario.status,
                     "version": scenario.version, "is_editable": scenario.is_editable},
        "territories": selectors.workspace_tree(scenario=scenario),
        "edits": selectors.scenario_edit_state(scenario=scenario),
    })


@api_view(["GET"])
@permission_classes([IsManager])
def scenario_balance(request: Request, scenario_id: int) -> Response:
    return Response(selectors.territory_balance(scenario=get_object_or_404(Scenario, pk=scenario_id)))


@api_view(["GET"])
@permission_classes([IsManager])
def scenario_boundaries(request: Request, scenario_id: int) -> HttpResponse:
    scenario = get_object_or_404(Scenario, pk=scenario_id)
    body = selectors.boundaries_geojson(scenario=scenario, zoom=_zoom(request))
    response = HttpResponse(body, content_type="application/geo+json")
    response["X-Scenario-Version"] = str(scenario.version)
    return response


@api_view(["GET"])
@permission_classes([IsManager])
def scenario_units(request: Request, scenario_id: int) -> Response:
    scenario = get_object_or_404(Scenario, pk=scenario_id)
    try:
        bbox = selectors.BBox.parse(request.query_params.get("bbox"))
    except ValueError as exc:
        return _bad_request(str(exc))
    return Response(selectors.units_geojson(scenario=scenario, bbox=bbox, zoom=_zoom(request)))


@api_view(["GET"])
@permission_classes([IsManager])
def scenario_accounts(request: Request, scenario_id: int) -> Response:
    scenario = get_object_or_404(Scenario, pk=scenario_id)
    try:
        bbox = selectors.BBox.parse(request.query_params.get("bbox"))
    except ValueError as exc:
        return _bad_request(str(exc))
    return Response(selectors.accounts_in_bbox(scenario=scenario, bbox=bbox))


@api_view(["GET"])
@permission_classes([IsManager])
def account_tile(request: Request, scenario_id: int, z: int, x: int, y: int) -> HttpResponse:
    scenario = get_object_or_404(Scenario.objects.only("pk", "version", "updated_at"), pk=scenario_id)
    try:
        tile = selectors.account_tile(scenario=scenario, z=z, x=x, y=y)
    except ValueError:
        return HttpResponse(status=404)
    response = HttpResponse(tile, content_type="application/vnd.mapbox-vector-tile")
    response["Cache-Control"] = "private, max-age=60"
    return response


class SelectionSerializer(serializers.Serializer):
    target = serializers.ChoiceField(choices=["units", "accounts"])
    geometry = serializers.JSONField()


@api_view(["POST"])
@permission_classes([IsManager])
def scenario_selection(request: Request, scenario_id: int) -> Response:
    scenario = get_object_or_404(Scenario, pk=scenario_id)
    data = SelectionSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    geometry = data.validated_data["geometry"]
    if not isinstance(geometry, dict) or geometry.get("type") not in {"Polygon", "MultiPolygon"}:
        return _bad_request("geometry must be a GeoJSON Polygon or MultiPolygon")
    return Response(selectors.selection_in_shape(scenario=scenario, geometry=geometry,
                                                 target=data.validated_data["target"]))


class EditSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="The scenario version the editor last read.")


class MoveSerializer(EditSerializer):
    ids = serializers.ListField(child=serializers.IntegerField(), max_length=selectors.SELECTION_LIMIT)
    territory = serializers.IntegerField()


class ReshapeSerializer(EditSerializer):
    geometry = serializers.JSONField()


class LockSerializer(EditSerializer):
    is_locked = serializers.BooleanField()


def _edit_response(scenario_id: int, edit: ScenarioEdit | None = None, **extra) -> Response:
    scenario = Scenario.objects.get(pk=scenario_id)
    body = {"version": scenario.version, "balance": selectors.territory_balance(scenario=scenario),
            "edits": selectors.scenario_edit_state(scenario=scenario), **extra}
    if edit is not None:
        body["edit"] = {"sequence": edit.sequence, "kind": edit.kind, "summary": edit.summary,
                        "territories": edit.territory_ids, "is_undone": edit.is_undone}
    return Response(body)


def _run_edit(request: Request, serializer_class, call):
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    try:
        return call(data.validated_data)
    except services.WorkspaceError as exc:
        return _error(exc)


@api_view(["POST"])
@permission_classes([IsManager])
def move_units(request: Request, scenario_id: int) -> Response:
    def call(data):
        edit = services.units_move(scenario_id=scenario_id, version=data["version"], unit_ids=data["ids"],
                                   territory_id=data["territory"], actor=request.user)
        return _edit_response(scenario_id, edit)

    get_object_or_404(Scenario, pk=scenario_id)
    return _run_edit(request, MoveSerializer, call)


@api_view(["POST"])
@permission_classes([IsManager])
def move_accounts(request: Request, scenario_id: int) -> Response:
    def call(data):
        edit = services.accounts_move(scenario_id=scenario_id, version=data["version"], account_ids=data["ids"],
                                      territory_id=data["territory"], actor=request.user)
        return _edit_response(scenario_id, edit)

    get_object_or_404(Scenario, pk=scenario_id)
    return _run_edit(request, MoveSerializer, call)


@api_view(["POST"])
@permission_classes([IsManager])
def reshape_territory(request: Request, scenario_id: int, territory_id: int) -> Response:
    def call(data):
        edit = services.territory_reshape(scenario_id=scenario_id, version=data["version"],
                                          territory_id=territory_id, geometry=data["geometry"], actor=request.user)
        return _edit_response(scenario_id, edit)

    get_object_or_404(Scenario, pk=scenario_id)
    return _run_edit(request, ReshapeSerializer, call)


@api_view(["POST"])
@permission_classes([IsManager])
def lock_territory(request: Request, scenario_id: int, territory_id: int) -> Response:
    def call(data):
        territory = services.territory_lock_set(scenario_id=scenario_id, version=data["version"],
                                                territory_id=territory_id, is_locked=data["is_locked"],
                                                actor=request.user)
        return _edit_response(scenario_id, territory={"id": territory.pk, "is_locked": territory.is_locked})

    get_object_or_404(Scenario, pk=scenario_id)
    return _run_edit(request, LockSerializer, call)


def _history_step(request: Request, scenario_id: int, step) -> Response:
    """Undo or redo: the same request shape, one edit-log step in either direction."""
    def call(data):
        edit = step(scenario_id=scenario_id, version=data["version"], actor=request.user)
        return _edit_response(scenario_id, edit)

    get_object_or_404(Scenario, pk=scenario_id)
    return _run_edit(request, EditSerializer, call)


@api_view(["POST"])
@permission_classes([IsManager])
def undo(request: Request, scenario_id: int) -> Response:
    return _history_step(request, scenario_id, services.scenario_edit_undo)


@api_view(["POST"])
@permission_classes([IsManager])
def redo(request: Request, scenario_id: int) -> Response:
    return _history_step(request, scenario_id, services.scenario_edit_redo)


@api_view(["GET"])
@permission_classes([IsManager])
def scenario_compare(request: Request, scenario_id: int, other_id: int) -> Response:
    base = get_object_or_404(Scenario, pk=scenario_id)
    other = get_object_or_404(Scenario, pk=other_id)
    return Response(scenario_compare_service(scenario_a=base, scenario_b=other))
