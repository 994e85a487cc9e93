"""Creating and changing accounts; a change that can move an account re-allocates it at once."""

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Account

# Fields that rules or boundaries look at: changing one re-runs allocation for that account.
ALLOCATION_FIELDS = {"location", "industry", "segment", "customer_type", "products", "employees", "annual_revenue",
                     "potential", "tier", "status", "workload_hours", "postal_code", "state", "city", "country",
                     "name", "street", "external_id"}
EDITABLE_FIELDS = ALLOCATION_FIELDS


def _reallocate(account: Account, actor=None) -> None:
    from accounts.services.allocation import allocation_run
    from territories.selectors import scenario_active

    active = scenario_active()
    if active is not None:
        allocation_run(scenario=active, account_ids=[account.pk], created_by=actor)


@transaction.atomic
def account_create(*, external_id: str, name: str, actor=None, reallocate: bool = True, **fields) -> Account:
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError(f"Unknown account fields: {', '.join(sorted(unknown))}.")
    if Account.objects.filter(external_id=external_id).exists():
        raise ValidationError(f"An account with external id {external_id!r} already exists.")
    account = Account(external_id=external_id, name=name, **fields)
    account.full_clean()
    account.save()
    if reallocate:
        _reallocate(account, actor)
    return account


@transaction.atomic
def account_update(*, account: Account, actor=None, reallocate: bool = True, **fields) -> Account:
    """Change an account; if a field rules depend on changed, it is re-allocated in the active scenario."""
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError(f"Unknown account fields: {', '.join(sorted(unknown))}.")
    changed = {name for name, value in fields.items() if getattr(account, name) != value}
    for name, value in fields.items():
        setattr(account, name, value)
    account.full_clean()
    account.save()
    if reallocate and changed & ALLOCATION_FIELDS:
        _reallocate(account, actor)
    return account
