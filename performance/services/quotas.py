"""Quotas: goals per territory or rep over an explicit date range."""

from django.db import transaction

from performance.models import Quota


@transaction.atomic
def quota_save(*, quota: Quota) -> Quota:
    """Validate and save a quota (the model's constraints: an owner, and an end not before the start)."""
    quota.full_clean()
    quota.save()
    return quota


@transaction.atomic
def quota_delete(*, quota: Quota) -> None:
    quota.delete()
