"""Rate limits per user or token that never take the API down with Redis."""

import logging

from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)


class _FailOpen:
    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # the cache (Redis) is down: serve rather than fail every request
            logger.warning("Rate limiting skipped: %s", exc)
            return True


class UserThrottle(_FailOpen, UserRateThrottle):
    """API_RATE_USER per API token (each integration has its own budget), or per user for sessions."""

    def get_cache_key(self, request, view):
        from core.models import ApiToken

        if isinstance(request.auth, ApiToken):
            return self.cache_format % {"scope": self.scope, "ident": f"token-{request.auth.pk}"}
        return super().get_cache_key(request, view)


class AnonThrottle(_FailOpen, AnonRateThrottle):
    pass
