"""Bulk logging of activities (POST /api/v1/activities/bulk/): activities have no external id, so every valid
item creates one, through reps.services.activity_log, in one transaction with a per-item report."""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from rest_framework import serializers

from core.api.bulk import BULK_MAX_ITEMS, BulkReportBaseSerializer
from performance.models import Activity
from performance.services.kpis import kpi_refresh_for_accounts
from reps import services
from reps.coverage import account_list_for_user
from reps.selectors import rep_for_user, rep_list, user_is_manager

MAX_REPORTED_ERRORS = 1_000


class ActivityBulkItemSerializer(serializers.Serializer):
    """One activity of a bulk load; each item is validated on its own and reported by its index."""

    account_external_id = serializers.CharField(max_length=64, help_text="The account's external id; it must be "
                                                                         "in your book.")
    kind = serializers.ChoiceField(choices=Activity.Kind.choices)
    occurred_at = serializers.DateTimeField(required=False, help_text="With a time zone; default: now.")
    duration_minutes = serializers.IntegerField(min_value=0, max_value=2_147_483_647, required=False)
    notes = serializers.CharField(required=False, allow_blank=True)
    outcome = serializers.CharField(required=False, allow_blank=True,
                                    help_text="Stored as the first line of the notes ('Outcome: ...').")
    rep = serializers.IntegerField(required=False, allow_null=True,
                                   help_text="A rep id (managers: one of your reps); default: a rep logs as "
                                             "themselves, a manager's item has no rep.")


class ActivityBulkSerializer(serializers.Serializer):
    items = serializers.ListField(child=serializers.JSONField(), allow_empty=False,
                                  help_text=f"At most {BULK_MAX_ITEMS:,} activities per request.")
    skip_invalid = serializers.BooleanField(default=False, help_text="Save the valid items even if some are not; "
                                                                     "by default one bad item saves nothing.")


class ActivityBulkDocumentedSerializer(ActivityBulkSerializer):
    items = ActivityBulkItemSerializer(many=True)


class ActivityBulkReportSerializer(BulkReportBaseSerializer):
    """What an activity bulk load did: every saved item is `created` (`updated` and `unchanged` are always 0)."""


def _first_error(detail) -> tuple[str, str]:
    """The first (field, message) of a DRF or Django error structure."""
    if isinstance(detail, dict):
        field, messages = next(iter(detail.items()))
        message = messages[0] if isinstance(messages, list | tuple) and messages else messages
        return ("item" if field in {"non_field_errors", "__all__"} else field), str(message)
    if isinstance(detail, list | tuple) and detail:
        return "item", str(detail[0])
    return "item", str(detail)


def activity_bulk_log(*, user, items: list, skip_invalid: bool = False) -> dict:
    """Log every valid item as a new activity, with the single-item endpoint's rules (the account must be in the
    user's book; a rep logs as themselves; a manager names one of their reps). One transaction: with any bad item
    nothing is saved unless `skip_invalid`; the report lists (index, field, message) per bad item."""
    keys = {str(item.get("account_external_id", "")) for item in items if isinstance(item, dict)}
    accounts = {account.external_id: account
                for account in account_list_for_user(user=user).filter(external_id__in=keys)}
    manager = user_is_manager(user)
    own_rep = None if manager else rep_for_user(user=user)
    rep_ids = {item.get("rep") for item in items if isinstance(item, dict) and isinstance(item.get("rep"), int)}
    reps = {rep.pk: rep for rep in rep_list(user=user).filter(pk__in=rep_ids)}
    errors, created, logged = [], 0, []

    def bad(index: int, field: str, message: str) -> None:
        errors.append({"index": index, "field": field, "message": f"{field} {message}"})

    with transaction.atomic():
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                bad(index, "item", "must be an object with account_external_id and kind")
                continue
            parsed = ActivityBulkItemSerializer(data=item)
            if not parsed.is_valid():
                bad(index, *_first_error(parsed.errors))
                continue
            data = dict(parsed.validated_data)
            key = data.pop("account_external_id")
            account = accounts.get(key)
            if account is None:
                bad(index, "account_external_id", f"{key!r} is not an account in your book")
                continue
            rep_id = data.pop("rep", None)
            if not manager:
                if own_rep is None:
                    bad(index, "rep", "is required: only reps log activities")
                    continue
                if rep_id is not None and rep_id != own_rep.pk:
                    bad(index, "rep", f"{rep_id} is not you: a rep logs activities as themselves")
                    continue
                rep = own_rep
            elif rep_id is not None:
                rep = reps.get(rep_id)
                if rep is None:
                    bad(index, "rep", f"{rep_id} is not one of your reps")
                    continue
            else:
                rep = None
            try:
                logged.append(services.activity_log(account=account, rep=rep, user=user, refresh_kpis=False, **data))
            except DjangoValidationError as exc:
                bad(index, *_first_error(exc.message_dict if hasattr(exc, "error_dict") else exc.messages))
            except PermissionDenied as exc:
                bad(index, "account_external_id", str(exc) or "is not an account you may log activities on")
            else:
                created += 1
        rejected = bool(errors) and not skip_invalid
        if rejected:
            transaction.set_rollback(True)
    summary = {"items": len(items), "errors": len(errors), "report": errors[:MAX_REPORTED_ERRORS], "created": 0,
               "updated": 0, "unchanged": 0, "skipped": 0, "committed": False}
    if rejected:
        summary.update(skipped=len(items), message=f"Rejected: {len(errors)} of {len(items)} items have errors; "
                                                   "nothing was saved. Fix them, or send again with skip_invalid.")
        return summary
    summary.update(committed=True, created=created, skipped=len(errors),
                   message=f"{created} activities created, {len(errors)} skipped.")
    # One KPI refresh for the batch, not one per activity.
    kpi_refresh_for_accounts(account_ids=[activity.account_id for activity in logged],
                             days=[timezone.localdate(activity.occurred_at) for activity in logged],
                             reason="activities logged in bulk", user=user)
    return summary
