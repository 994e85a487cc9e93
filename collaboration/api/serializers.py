"""Serializers of the collaboration API: they shape data and validate types, never decide."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from collaboration.models import (
    ChangeRequest,
    Comment,
    Notification,
    SalesPlan,
    SalesPlanAction,
    SalesPlanGoal,
    ShareLink,
)
from collaboration.selectors.threads import COMMENT_TARGETS
from territories.models import Scenario

TARGET_TYPE_PARAMETER = OpenApiParameter("target_type", OpenApiTypes.STR, enum=sorted(COMMENT_TARGETS),
                                         required=True)
TARGET_ID_PARAMETER = OpenApiParameter("target_id", OpenApiTypes.INT, required=True)


class ChangeRequestSerializer(serializers.ModelSerializer):
    proposed_by = serializers.CharField(source="proposed_by.username", read_only=True, default=None)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True, default=None)
    is_stale = serializers.SerializerMethodField()
    can_decide = serializers.SerializerMethodField()

    class Meta:
        model = ChangeRequest
        fields = ["id", "scenario", "kind", "status", "title", "reason", "payload", "territory_ids", "impact",
                  "impact_computed_at", "base_scenario_version", "proposed_by", "decided_by", "decided_at",
                  "decision_note", "applied_at", "applied_summary", "created_at", "updated_at", "is_stale",
                  "can_decide"]
        read_only_fields = fields

    def get_is_stale(self, obj) -> bool:
        return self.context["is_stale"](change_request=obj)

    def get_can_decide(self, obj) -> bool:
        return obj.status == "pending" and self.context["can_decide"](user=self.context["request"].user,
                                                                       change_request=obj)


class ChangeRequestCreateSerializer(serializers.Serializer):
    scenario = serializers.PrimaryKeyRelatedField(queryset=Scenario.objects.all())
    kind = serializers.ChoiceField(choices=ChangeRequest.Kind.choices)
    payload = serializers.JSONField(help_text="move_accounts: {account_ids, to_territory_id, from_territory_id?}; "
                                              "move_units: {unit_ids, to_territory_id}; change_rule: {rule_id, "
                                              "changes}; reassign_rep: {territory_id, rep_id|null, valid_from?}")
    reason = serializers.CharField()


class ChangeRequestUpdateSerializer(serializers.Serializer):
    payload = serializers.JSONField(required=False)
    reason = serializers.CharField(required=False)


class DecisionSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True, default=None)
    mentions = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)
    target_type = serializers.CharField(source="content_type.model", read_only=True)

    class Meta:
        model = Comment
        fields = ["id", "target_type", "object_id", "author", "body", "is_system", "mentions", "created_at",
                  "edited_at"]


class CommentCreateSerializer(serializers.Serializer):
    target_type = serializers.ChoiceField(choices=sorted(COMMENT_TARGETS))
    target_id = serializers.IntegerField()
    body = serializers.CharField()


class NotificationSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", read_only=True, default=None)
    target_type = serializers.CharField(source="content_type.model", read_only=True, default=None)

    class Meta:
        model = Notification
        fields = ["id", "kind", "message", "url", "actor", "target_type", "object_id", "created_at", "read_at"]


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField()


class MarkReadSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), required=False,
                                help_text="Leave out to mark every notification read.")


class SalesPlanGoalSerializer(serializers.ModelSerializer):
    class Meta:
        model = SalesPlanGoal
        fields = ["id", "quota", "metric", "target", "description"]


class SalesPlanActionSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True, default=None)

    class Meta:
        model = SalesPlanAction
        fields = ["id", "description", "owner", "due_date", "account", "is_done", "done_at"]


class SalesPlanSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True, default=None)
    approved_by = serializers.CharField(source="approved_by.username", read_only=True, default=None)
    goals = SalesPlanGoalSerializer(many=True, read_only=True)
    actions = SalesPlanActionSerializer(many=True, read_only=True)

    class Meta:
        model = SalesPlan
        fields = ["id", "territory", "period_start", "period_end", "status", "strategy", "key_accounts", "goals",
                  "actions", "author", "submitted_at", "approved_by", "approved_at", "reviewed_at", "review",
                  "review_comment", "created_at", "updated_at"]
        read_only_fields = fields


class SalesPlanCreateSerializer(serializers.Serializer):
    territory = serializers.IntegerField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    strategy = serializers.CharField(required=False, allow_blank=True, default="")


class SalesPlanUpdateSerializer(serializers.Serializer):
    strategy = serializers.CharField(required=False, allow_blank=True)
    key_account_ids = serializers.ListField(child=serializers.IntegerField(), required=False)


class GoalCreateSerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=SalesPlanGoal.Metric.choices, required=False, default="revenue")
    target = serializers.DecimalField(max_digits=14, decimal_places=2)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class ActionCreateSerializer(serializers.Serializer):
    description = serializers.CharField()
    due_date = serializers.DateField()
    account_id = serializers.IntegerField(required=False, allow_null=True, default=None)


class ActionDoneSerializer(serializers.Serializer):
    is_done = serializers.BooleanField(default=True)


class ReviewSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class ShareLinkSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = ShareLink
        fields = ["id", "scenario", "label", "prefix", "expires_at", "revoked_at", "created_by", "created_at",
                  "view_count", "last_viewed_at"]


class ShareLinkCreateSerializer(serializers.Serializer):
    scenario = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    label = serializers.CharField(required=False, allow_blank=True, default="")


class ShareLinkCreatedSerializer(ShareLinkSerializer):
    url = serializers.CharField(read_only=True, help_text="Shown only now; it cannot be recovered.")

    class Meta(ShareLinkSerializer.Meta):
        fields = [*ShareLinkSerializer.Meta.fields, "url"]
