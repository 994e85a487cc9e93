"""Integrations subscribe to events and read their delivery log."""

from rest_framework import mixins, permissions, serializers, viewsets

from core.models import WebhookDelivery, WebhookSubscription


class IsManagerOrAdmin(permissions.BasePermission):
    message = "Only sales managers and admins can manage webhooks."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_manager)


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookSubscription.Event.choices),
                                   allow_empty=False)
    secret = serializers.CharField(write_only=True, min_length=16, max_length=100)

    class Meta:
        model = WebhookSubscription
        fields = ["id", "url", "events", "secret", "is_active", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_url(self, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise serializers.ValidationError("Use an http:// or https:// URL.")
        return value


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "subscription", "event", "payload", "status", "attempts", "response_status", "last_error",
                  "created_at", "delivered_at"]


class WebhookSubscriptionViewSet(viewsets.ModelViewSet):
    serializer_class = WebhookSubscriptionSerializer
    permission_classes = [IsManagerOrAdmin]
    queryset = WebhookSubscription.objects.none()

    def get_queryset(self):
        return WebhookSubscription.objects.filter(owner=self.request.user)

    def perform_create(self, serializer):
        serializer.save(owner=self.request.user)


class WebhookDeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = WebhookDeliverySerializer
    permission_classes = [IsManagerOrAdmin]
    queryset = WebhookDelivery.objects.none()
    filterset_fields = ["status", "event", "subscription"]

    def get_queryset(self):
        return WebhookDelivery.objects.filter(subscription__owner=self.request.user)
