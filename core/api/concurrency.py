"""Optimistic locking for plain REST updates: a client that sends `If-Match: <version>` never overwrites a change
it has not seen; the row is locked, its version compared, and a stale one answered 409 with what to do."""

from django.db import models

from core.api_errors import Conflict


def expected_version(request) -> int | None:
    """The version the client read, from `If-Match` ("7", "\"7\"" or W/"7"); None when it sent none."""
    header = (request.headers.get("If-Match") or "").strip()
    if not header or header == "*":
        return None
    value = header.removeprefix("W/").strip('"')
    try:
        return int(value)
    except ValueError:
        raise Conflict(f"If-Match must be the version number you read, not {header!r}.") from None


def version_check(*, queryset: models.QuerySet, pk: int, expected: int | None, label: str) -> None:
    """Lock the row for the surrounding transaction and refuse the write when its version moved on."""
    if expected is None:
        return
    current = queryset.select_for_update().values_list("version", flat=True).get(pk=pk)
    if current != expected:
        raise Conflict(f"{label} was changed by someone else (you have version {expected}, it is now at version "
                       f"{current}). Reload it to see their changes, then try again.")
