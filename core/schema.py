"""Teach drf-spectacular how the API is authenticated, so the schema documents it."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "core.tokens.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API token: `Authorization: Bearer tm_...`"}


def only_public_api(endpoints):
    """The schema documents /api/v1/; JSON helpers behind the pages are not part of the public API."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/v1/")]
