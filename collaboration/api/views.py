"""REST endpoints of the collaboration app; every write calls the same service as the pages."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from collaboration.api import serializers as s
from collaboration.models import ChangeRequest, Comment, Notification, SalesPlan, SalesPlanAction, ShareLink
from collaboration.selectors.plans import sales_plan_list
from collaboration.selectors.requests import change_request_can_decide, change_request_is_stale, change_request_list
from collaboration.selectors.scope import user_is_manager
from collaboration.selectors.threads import (
    comment_list,
    comment_target_get,
    comment_target_visible,
    notification_list,
    notification_unread_count,
)
from collaboration.services import change_requests as request_services
from collaboration.services import plans as plan_services
from collaboration.services.comments import comment_add
from collaboration.services.notifications import notification_mark_read
from collaboration.services.sharing import share_link_create, share_link_revoke
from territories.models import Scenario, Territory


class ChangeRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Change requests the user is part of; file, revise, refresh, decide and withdraw them."""

    serializer_class = s.ChangeRequestSerializer
    queryset = ChangeRequest.objects.none()
    filterset_fields = ["status", "kind", "scenario"]

    def get_queryset(self):
        return change_request_list(user=self.request.user).order_by("-created_at")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "is_stale": change_request_is_stale,
                "can_decide": change_request_can_decide}

    @extend_schema(request=s.ChangeRequestCreateSerializer, responses={201: s.ChangeRequestSerializer})
    def create(self, request, *args, **kwargs):
        data = s.ChangeRequestCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = request_services.change_request_create(user=request.user, **data.validated_data)
        return Response(self.get_serializer(created).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ChangeRequestUpdateSerializer, responses=s.ChangeRequestSerializer)
    def partial_update(self, request, *args, **kwargs):
        data = s.ChangeRequestUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        updated = request_services.change_request_update(user=request.user, change_request=self.get_object(),
                                                         **data.validated_data)
        return Response(self.get_serializer(updated).data)

    def _decide(self, request, decision):
        data = s.DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decided = request_services.change_request_decide(user=request.user, change_request=self.get_object(),
                                                         decision=decision, note=data.validated_data["note"])
        return Response(self.get_serializer(decided).data)

    @extend_schema(request=s.DecisionSerializer, responses=s.ChangeRequestSerializer,
                   description="Apply the change in one transaction; 400 with code 'stale' when it must be "
                               "refreshed first.")
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._decide(request, "approve")

    @extend_schema(request=s.DecisionSerializer, responses=s.ChangeRequestSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._decide(request, "reject")

    @extend_schema(request=s.DecisionSerializer, responses=s.ChangeRequestSerializer)
    @action(detail=True, methods=["post"], url_path="request-changes")
    def request_changes(self, request, pk=None):
        return self._decide(request, "request_changes")

    @extend_schema(request=None, responses=s.ChangeRequestSerializer)
    @action(detail=True, methods=["post"])
    def refresh(self, request, pk=None):
        refreshed = request_services.change_request_refresh(user=request.user, change_request=self.get_object())
        return Response(self.get_serializer(refreshed).data)

    @extend_schema(request=None, responses=s.ChangeRequestSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        withdrawn = request_services.change_request_withdraw(user=request.user, change_request=self.get_object())
        return Response(self.get_serializer(withdrawn).data)


class CommentViewSet(viewsets.GenericViewSet):
    """The thread of a territory, account, scenario, change request or sales plan."""

    serializer_class = s.CommentSerializer
    queryset = Comment.objects.none()

    def _target(self, target_type, target_id):
        target = comment_target_get(target_type=target_type, target_id=target_id)
        if target is None or not comment_target_visible(user=self.request.user, target=target):
            raise serializers.ValidationError({"target": "No such thread, or you cannot read it."})
        return target

    @extend_schema(parameters=[s.TARGET_TYPE_PARAMETER, s.TARGET_ID_PARAMETER],
                   responses=s.CommentSerializer(many=True))
    def list(self, request):
        target = self._target(request.query_params.get("target_type"), request.query_params.get("target_id"))
        return Response(self.get_serializer(comment_list(target=target), many=True).data)

    @extend_schema(request=s.CommentCreateSerializer, responses={201: s.CommentSerializer})
    def create(self, request):
        data = s.CommentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        target = self._target(data.validated_data["target_type"], data.validated_data["target_id"])
        comment = comment_add(user=request.user, target=target, body=data.validated_data["body"])
        return Response(self.get_serializer(comment).data, status=status.HTTP_201_CREATED)


class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The user's notifications, newest first; `unread-count` for a badge."""

    serializer_class = s.NotificationSerializer
    queryset = Notification.objects.none()
    filterset_fields = ["kind"]

    def get_queryset(self):
        unread_only = self.request.query_params.get("unread") in {"1", "true"}
        return notification_list(user=self.request.user, unread_only=unread_only)

    @extend_schema(responses=s.UnreadCountSerializer)
    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request):
        return Response({"unread": notification_unread_count(user=request.user)})

    @extend_schema(request=s.MarkReadSerializer, responses=s.UnreadCountSerializer)
    @action(detail=False, methods=["post"], url_path="mark-read")
    def mark_read(self, request):
        data = s.MarkReadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        notification_mark_read(user=request.user, notification_ids=data.validated_data.get("ids"))
        return Response({"unread": notification_unread_count(user=request.user)})


class SalesPlanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Territory sales plans; the workflow steps are POST actions."""

    serializer_class = s.SalesPlanSerializer
    queryset = SalesPlan.objects.none()
    filterset_fields = ["status", "territory"]

    def get_queryset(self):
        return sales_plan_list(user=self.request.user).prefetch_related("goals", "actions", "key_accounts")

    @extend_schema(request=s.SalesPlanCreateSerializer, responses={201: s.SalesPlanSerializer})
    def create(self, request):
        data = s.SalesPlanCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        territory = get_object_or_404(Territory, pk=data.validated_data.pop("territory"))
        plan = plan_services.sales_plan_create(user=request.user, territory=territory, **data.validated_data)
        return Response(self.get_serializer(plan).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.SalesPlanUpdateSerializer, responses=s.SalesPlanSerializer)
    def partial_update(self, request, pk=None):
        data = s.SalesPlanUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        plan = plan_services.sales_plan_update(user=request.user, plan=self.get_object(), **data.validated_data)
        return Response(self.get_serializer(plan).data)

    @extend_schema(request=s.GoalCreateSerializer, responses={201: s.SalesPlanSerializer})
    @action(detail=True, methods=["post"])
    def goals(self, request, pk=None):
        data = s.GoalCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        plan = self.get_object()
        plan_services.sales_plan_goal_add(user=request.user, plan=plan, **data.validated_data)
        return Response(self.get_serializer(plan).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ActionCreateSerializer, responses={201: s.SalesPlanSerializer})
    @action(detail=True, methods=["post"])
    def actions(self, request, pk=None):
        data = s.ActionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        plan = self.get_object()
        plan_services.sales_plan_action_add(user=request.user, plan=plan, **data.validated_data)
        return Response(self.get_serializer(plan).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ActionDoneSerializer, responses=s.SalesPlanSerializer)
    @action(detail=True, methods=["post"], url_path="actions/(?P<action_id>[0-9]+)/done")
    def action_done(self, request, pk=None, action_id=None):
        data = s.ActionDoneSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        plan = self.get_object()
        plan_action = get_object_or_404(SalesPlanAction, pk=action_id, plan=plan)
        plan_services.sales_plan_action_set_done(user=request.user, action=plan_action, **data.validated_data)
        return Response(self.get_serializer(plan).data)

    def _step(self, function, **kwargs):
        return Response(self.get_serializer(function(user=self.request.user, plan=self.get_object(), **kwargs)).data)

    @extend_schema(request=None, responses=s.SalesPlanSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._step(plan_services.sales_plan_submit)

    @extend_schema(request=s.DecisionSerializer, responses=s.SalesPlanSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._step(plan_services.sales_plan_approve, note=request.data.get("note", ""))

    @extend_schema(request=s.DecisionSerializer, responses=s.SalesPlanSerializer)
    @action(detail=True, methods=["post"], url_path="return")
    def return_to_draft(self, request, pk=None):
        return self._step(plan_services.sales_plan_return, note=request.data.get("note", ""))

    @extend_schema(request=s.ReviewSerializer, responses=s.SalesPlanSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        return self._step(plan_services.sales_plan_review, comment=request.data.get("comment", ""))


class ShareLinkViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Read-only links to a scenario; the URL is returned once, at creation; DELETE revokes."""

    serializer_class = s.ShareLinkSerializer
    queryset = ShareLink.objects.none()
    filterset_fields = ["scenario"]

    def get_queryset(self):
        if not user_is_manager(self.request.user):
            return ShareLink.objects.none()
        return ShareLink.objects.select_related("scenario", "created_by")

    @extend_schema(request=s.ShareLinkCreateSerializer, responses={201: s.ShareLinkCreatedSerializer})
    def create(self, request):
        from django.urls import reverse

        data = s.ShareLinkCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        scenario = get_object_or_404(Scenario, pk=data.validated_data["scenario"])
        link, token = share_link_create(user=request.user, scenario=scenario,
                                        expires_at=data.validated_data["expires_at"],
                                        label=data.validated_data.get("label", ""))
        link.url = request.build_absolute_uri(reverse("collaboration:shared", args=[token]))
        return Response(s.ShareLinkCreatedSerializer(link).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        share_link_revoke(user=request.user, link=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
