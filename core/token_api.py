"""Each user manages their own API tokens; the plaintext appears once, in the creation response."""

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from core.models import ApiToken
from core.tokens import api_token_create, api_token_revoke


class ApiTokenSerializer(serializers.ModelSerializer):
    created_at = serializers.DateTimeField(read_only=True, default_timezone=dt.UTC)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default_timezone=dt.UTC)
    last_used_at = serializers.DateTimeField(read_only=True, allow_null=True, default_timezone=dt.UTC)
    revoked_at = serializers.DateTimeField(read_only=True, allow_null=True, default_timezone=dt.UTC)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
        read_only_fields = ["id", "prefix", "created_at", "last_used_at", "revoked_at"]

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Give an expiry in the future, or none for a token that does not "
                                              "expire.")
        # Far-off dates with odd offsets would come back in a local-mean-time offset (not RFC 3339), or past
        # year 9999 (not a Python datetime): keep them in UTC and within the calendar.
        if value is not None and value.astimezone(dt.UTC).year >= 9999:
            raise serializers.ValidationError("Give an expiry before the year 9999.")
        return value.astimezone(dt.UTC) if value is not None else None


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="Shown only now; store it safely.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]


class ApiTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                      viewsets.GenericViewSet):
    serializer_class = ApiTokenSerializer
    queryset = ApiToken.objects.none()

    def get_queryset(self):
        return ApiToken.objects.filter(user=self.request.user)

    @extend_schema(request=ApiTokenSerializer, responses={201: ApiTokenCreatedSerializer})
    def create(self, request, *args, **kwargs):
        serializer = ApiTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, plaintext = api_token_create(user=request.user, name=serializer.validated_data["name"],
                                            expires_at=serializer.validated_data.get("expires_at"))
        token.token = plaintext
        return Response(ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(description="Revoke the token; it stops working at once and stays listed.")
    def destroy(self, request, *args, **kwargs):
        api_token_revoke(token=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
