"""Slow down password guessing: a few failures per user name and address, then a pause."""

import hashlib
import logging

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache

logger = logging.getLogger(__name__)


def _key(request, username: str) -> str:
    address = request.META.get("REMOTE_ADDR", "")
    digest = hashlib.sha256(f"{username.lower()}|{address}".encode()).hexdigest()[:32]
    return f"login-failures:{digest}"


def _failures(key: str) -> int:
    try:
        return int(cache.get(key) or 0)
    except Exception as exc:  # the cache is down: let people sign in rather than lock everyone out
        logger.warning("Login throttling skipped: %s", exc)
        return 0


def _record_failure(key: str) -> None:
    try:
        if not cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS):
            cache.incr(key)
    except Exception as exc:
        logger.warning("Login failure not recorded: %s", exc)


class ThrottledLoginView(auth_views.LoginView):
    def post(self, request, *args, **kwargs):
        key = _key(request, request.POST.get("username", ""))
        if _failures(key) >= settings.LOGIN_FAILURE_LIMIT:
            form = self.get_form()
            minutes = max(1, settings.LOGIN_FAILURE_WINDOW_SECONDS // 60)
            form.add_error(None, f"Too many failed sign-ins; wait {minutes} minutes and try again.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        response = super().post(request, *args, **kwargs)
        if response.status_code != 302:
            _record_failure(key)
        return response
