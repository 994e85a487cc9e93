"""The account.reassigned webhook: one event per allocation run or manual move, not one per account."""

from collections.abc import Sequence

from accounts.models import Account
from territories.models import Scenario, Territory

ACCOUNT_REASSIGNED = "account.reassigned"
ACCOUNTS_PER_EVENT = 1000  # the event lists this many accounts; `accounts_total` says how many changed


def account_reassigned_emit(*, scenario_id: int, source: str, moves: Sequence[tuple[int, int | None, int | None]],
                            total: int | None = None, run_id: int | None = None, actor=None) -> None:
    """Announce, after the transaction commits, that accounts changed territory: `moves` holds (account id, from
    territory id, to territory id) with None for none, at most ACCOUNTS_PER_EVENT of them are listed."""
    from core.webhooks import webhook_emit, webhook_is_subscribed

    moves = [move for move in moves if move[1] != move[2]]
    if not moves or not webhook_is_subscribed(ACCOUNT_REASSIGNED):
        return
    listed = sorted(moves)[:ACCOUNTS_PER_EVENT]
    external_ids = dict(Account.objects.filter(pk__in=[m[0] for m in listed]).values_list("pk", "external_id"))
    territory_ids = {t for m in listed for t in m[1:] if t is not None}
    codes = dict(Territory.objects.filter(pk__in=territory_ids).values_list("pk", "code"))
    scenario = Scenario.objects.filter(pk=scenario_id).values("name", "status").first() or {}
    total = max(total or 0, len(moves))
    webhook_emit(event=ACCOUNT_REASSIGNED, payload={
        "scenario": scenario_id, "scenario_name": scenario.get("name"),
        "scenario_is_active": scenario.get("status") == Scenario.Status.ACTIVE,
        "source": source, "run": run_id, "actor": getattr(actor, "username", None),
        "accounts_total": total, "truncated": total > len(listed),
        "accounts": [{"account": account, "external_id": external_ids.get(account),
                      "from_territory": from_id, "from_code": codes.get(from_id),
                      "to_territory": to_id, "to_code": codes.get(to_id)} for account, from_id, to_id in listed],
    })
