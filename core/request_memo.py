"""Values a request reads more than once, read once: a GET or HEAD request changes nothing, so what it asks twice
(the active scenario, asked by the permission scope and again by the view) has the same answer both times.
Outside such a request (writes, Celery tasks, commands) nothing is kept."""

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
_local = threading.local()  # gunicorn's gthread workers serve one request per thread


def request_memo(key: str, compute: Callable[[], T]) -> T:
    memo = getattr(_local, "memo", None)
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


class RequestMemoMiddleware:
    """Keeps request_memo's values for the length of one read-only request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        _local.memo = {}
        try:
            return self.get_response(request)
        finally:
            _local.memo = None
