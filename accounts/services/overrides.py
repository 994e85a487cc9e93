"""Manual overrides and exclusions: a manager's decisions that allocation runs never undo."""

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Account, AccountOverride
from territories.models import Scenario, Territory


@transaction.atomic
def override_create(*, scenario: Scenario, account: Account, territory: Territory, kind: str = "assign",
                    reason: str = "", created_by=None, apply: bool = True) -> AccountOverride:
    """Pin an account to a territory ("assign") or keep it out of one and its subtree ("exclude").

    A new assign override replaces the account's previous one. With `apply`, the account is re-allocated at
    once so the override is in force without waiting for the next run.
    """
    from accounts.services.allocation import allocation_run

    if scenario.status == Scenario.Status.ARCHIVED:
        raise ValidationError(f'Scenario "{scenario.name}" is archived; clone it to change overrides.')
    if territory.scenario_id != scenario.pk:
        raise ValidationError("The territory belongs to another scenario.")
    if kind not in AccountOverride.Kind.values:
        raise ValidationError("Kind must be assign or exclude.")
    if kind == AccountOverride.Kind.ASSIGN:
        AccountOverride.objects.filter(scenario=scenario, account=account, kind=kind, is_active=True).update(
            is_active=False
        )
    override = AccountOverride.objects.create(
        scenario=scenario, account=account, territory=territory, kind=kind, reason=reason[:300],
        created_by=created_by,
    )
    if apply:
        allocation_run(scenario=scenario, account_ids=[account.pk], created_by=created_by)
    return override


@transaction.atomic
def override_deactivate(*, override: AccountOverride, apply: bool = True, actor=None) -> AccountOverride:
    """Withdraw an override; the account goes back to what the rules say."""
    from accounts.services.allocation import allocation_run

    if override.scenario.status == Scenario.Status.ARCHIVED:
        raise ValidationError("Overrides of an archived scenario cannot change; clone it.")
    override.is_active = False
    override.save(update_fields=["is_active"])
    if apply:
        allocation_run(scenario=override.scenario, account_ids=[override.account_id], created_by=actor)
    return override
