"""An AutoSchema that documents the error answers every endpoint can give (core.api_errors' JSON shape)."""

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ApiErrorSerializer(serializers.Serializer):
    """{"code", "message", "errors"}: a stable code, a sentence a person can act on, and field errors."""

    code = serializers.CharField()
    message = serializers.CharField()
    errors = serializers.JSONField(required=False)


class ErrorDocumentingAutoSchema(AutoSchema):
    """Adds 400 (invalid input or a refused command), 403 (not allowed), 404 (unknown object) and 429 (over the
    rate limit; the Retry-After header says after how many seconds to try again) responses."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status_code in ("400", "403", "404", "429"):
            if status_code not in responses:
                responses[status_code] = self._get_response_for_code(ApiErrorSerializer, status_code)
        return responses
