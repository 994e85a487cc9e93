"""Change requests: file with computed impact, refresh, decide (approve applies it in one transaction), withdraw.

Conflicts: a request remembers the rows it depends on (the current assignment ids of its accounts, the
placement of its units, the rule's last change, the territory's open owner rows) when filed or refreshed.
Approval re-reads them under lock; if any differ the approval is refused with "This request must be
refreshed", and a refresh recomputes the plan and the impact against the scenario as it is now.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import AccountAssignment
from collaboration.models import ChangeRequest, Notification
from collaboration.selectors.requests import (
    change_request_can_decide,
    change_request_deciders,
    change_request_impact,
    change_request_plan,
)
from collaboration.selectors.scope import territories_touch_scope
from collaboration.services import alignment
from collaboration.services.comments import comment_add
from collaboration.services.notifications import notification_notify
from collaboration.urls_helpers import target_url
from territories.models import Scenario, Territory


class ChangeRequestStale(ValidationError):
    """The scenario changed under the request since it was filed or refreshed."""

    def __init__(self, detail: str = ""):
        message = "This request must be refreshed: the alignment changed since it was filed."
        super().__init__(f"{message} {detail}".strip(), code="stale")


def _name(user) -> str:
    return (user.get_full_name() or user.username) if user else "Someone"


def _require_can_propose(*, user, scenario: Scenario, territory_ids: list[int]) -> None:
    if not user.has_perm("collaboration.add_changerequest"):
        raise PermissionDenied("You cannot propose changes.")
    # A rep proposes changes that touch their own territories; a manager, changes within their scope.
    if not territories_touch_scope(user=user, territory_ids=territory_ids):
        raise PermissionDenied("A change you propose must touch one of your territories.")


def _title(kind: str, plan) -> str:
    payload = plan.payload
    if kind == ChangeRequest.Kind.MOVE_ACCOUNTS:
        to = Territory.objects.get(pk=payload["to_territory_id"])
        count = len(payload["account_ids"])
        return f"Move {count} account{'s' if count != 1 else ''} to {to.code} {to.name}"
    if kind == ChangeRequest.Kind.MOVE_UNITS:
        to = Territory.objects.get(pk=payload["to_territory_id"])
        count = len(payload["unit_ids"])
        return f"Move {count} geo unit{'s' if count != 1 else ''} to {to.code} {to.name}"
    if kind == ChangeRequest.Kind.CHANGE_RULE:
        return f"Change rule {plan.extra['rule']['name']}"
    change = plan.extra["rep_change"]
    return f"{change['territory']}: {change['from'] or 'vacant'} → {change['to'] or 'vacant'}"


@transaction.atomic
def change_request_create(*, user, scenario: Scenario, kind: str, payload: dict, reason: str) -> ChangeRequest:
    """File a request with its impact; the managers above its territories are notified."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the change is needed."})
    plan = change_request_plan(scenario=scenario, kind=kind, payload=payload)
    _require_can_propose(user=user, scenario=scenario, territory_ids=plan.territory_ids)
    request = ChangeRequest.objects.create(
        scenario=scenario, kind=kind, title=_title(kind, plan)[:200], reason=reason, payload=plan.payload,
        territory_ids=plan.territory_ids, impact=change_request_impact(scenario=scenario, plan=plan),
        impact_computed_at=timezone.now(), base_scenario_version=scenario.version, base_state=plan.base_state,
        proposed_by=user,
    )
    notification_notify(
        recipients=change_request_deciders(change_request=request), actor=user,
        kind=Notification.Kind.REQUEST_FILED, message=f"{_name(user)} asks you to decide: {request.title}",
        target=request, url=target_url(request),
    )
    return request


@transaction.atomic
def change_request_refresh(*, user, change_request: ChangeRequest) -> ChangeRequest:
    """Recompute the plan and the impact against the scenario as it is now; the request stays open."""
    request = ChangeRequest.objects.select_for_update().get(pk=change_request.pk)
    if not request.is_open:
        raise ValidationError("Only an open request can be refreshed.")
    if request.proposed_by_id != user.pk and not change_request_can_decide(user=user, change_request=request):
        raise PermissionDenied("Only the proposer or a manager who decides it refreshes a request.")
    scenario = Scenario.objects.get(pk=request.scenario_id)
    plan = change_request_plan(scenario=scenario, kind=request.kind, payload=request.payload)
    request.payload, request.territory_ids, request.base_state = plan.payload, plan.territory_ids, plan.base_state
    request.impact = change_request_impact(scenario=scenario, plan=plan)
    request.impact_computed_at = timezone.now()
    request.base_scenario_version = scenario.version
    request.title = _title(request.kind, plan)[:200]
    request._change_reason = "Refreshed against the current alignment"
    request.save()
    comment_add(user=user, target=request, body="Refreshed: the impact was recomputed on the current alignment.",
                is_system=True)
    return request


@transaction.atomic
def change_request_update(*, user, change_request: ChangeRequest, payload: dict | None = None,
                          reason: str | None = None) -> ChangeRequest:
    """The proposer revises an open request (after "changes requested" it goes back to the deciders)."""
    request = ChangeRequest.objects.select_for_update().get(pk=change_request.pk)
    if request.proposed_by_id != user.pk:
        raise PermissionDenied("Only the proposer revises a request.")
    if not request.is_open:
        raise ValidationError("This request is closed.")
    scenario = Scenario.objects.get(pk=request.scenario_id)
    plan = change_request_plan(scenario=scenario, kind=request.kind,
                               payload=request.payload if payload is None else payload)
    _require_can_propose(user=user, scenario=scenario, territory_ids=plan.territory_ids)
    if reason is not None:
        if not reason.strip():
            raise ValidationError({"reason": "Say why the change is needed."})
        request.reason = reason.strip()
    request.payload, request.territory_ids, request.base_state = plan.payload, plan.territory_ids, plan.base_state
    request.impact = change_request_impact(scenario=scenario, plan=plan)
    request.impact_computed_at = timezone.now()
    request.base_scenario_version = scenario.version
    request.title = _title(request.kind, plan)[:200]
    was_returned = request.status == ChangeRequest.Status.CHANGES_REQUESTED
    request.status = ChangeRequest.Status.PENDING
    request._change_reason = "Revised by the proposer"
    request.save()
    if was_returned:
        notification_notify(
            recipients=change_request_deciders(change_request=request), actor=user,
            kind=Notification.Kind.REQUEST_STATE, message=f"{_name(user)} revised: {request.title}",
            target=request, url=target_url(request),
        )
    return request


def _apply(*, request: ChangeRequest, scenario: Scenario, user) -> dict:
    """Apply the request to the scenario; raises ChangeRequestStale when what it depends on changed."""
    plan = change_request_plan(scenario=scenario, kind=request.kind, payload=request.payload)
    if plan.base_state != request.base_state:
        raise ChangeRequestStale()
    # Lock what the request changes so nobody moves it between the check above and the writes below.
    list(AccountAssignment.objects.select_for_update().filter(pk__in=plan.delta.closed_assignment_ids))
    reason = request.reason_label
    summary: dict = {}
    if request.kind == ChangeRequest.Kind.MOVE_UNITS:
        to = Territory.objects.get(pk=request.payload["to_territory_id"])
        summary |= alignment.units_reassign(scenario=scenario, unit_ids=request.payload["unit_ids"], to=to,
                                            delta=plan.delta, reason=reason, user=user)
    elif request.kind == ChangeRequest.Kind.MOVE_ACCOUNTS:
        summary |= alignment.accounts_reassign(scenario=scenario, delta=plan.delta, reason=reason, user=user)
    elif request.kind == ChangeRequest.Kind.CHANGE_RULE:
        summary |= alignment.rule_change(rule_id=request.payload["rule_id"], changes=request.payload["changes"],
                                         reason=reason)
    elif request.kind == ChangeRequest.Kind.REASSIGN_REP:
        summary |= alignment.owner_reassign(
            territory_id=request.payload["territory_id"], rep_id=request.payload["rep_id"],
            valid_from=request.payload.get("valid_from"), reason=reason, user=user,
        )
    bumped = alignment.scenario_version_bump(scenario=scenario, reason=reason)
    summary["scenario_version"] = bumped.version
    return summary


DECISIONS = {
    "approve": (ChangeRequest.Status.APPROVED, "approved"),
    "reject": (ChangeRequest.Status.REJECTED, "rejected"),
    "request_changes": (ChangeRequest.Status.CHANGES_REQUESTED, "asked for changes to"),
}


@transaction.atomic
def change_request_decide(*, user, change_request: ChangeRequest, decision: str, note: str = "") -> ChangeRequest:
    """Approve (apply the change in this transaction), reject, or ask the proposer for changes."""
    if decision not in DECISIONS:
        raise ValidationError({"decision": f"Decide one of: {', '.join(DECISIONS)}."})
    request = ChangeRequest.objects.select_for_update(of=("self",)).select_related("proposed_by").get(
        pk=change_request.pk)
    if not change_request_can_decide(user=user, change_request=request):
        raise PermissionDenied("Only a manager above every territory of this request decides it.")
    if request.status != ChangeRequest.Status.PENDING:
        raise ValidationError(f"This request is {request.get_status_display().lower()}; it cannot be decided now.")
    note = (note or "").strip()
    if decision in {"reject", "request_changes"} and not note:
        raise ValidationError({"note": "Tell the proposer why."})
    status, verb = DECISIONS[decision]
    now = timezone.now()
    if decision == "approve":
        scenario = Scenario.objects.select_for_update().get(pk=request.scenario_id)
        request.applied_summary = _apply(request=request, scenario=scenario, user=user)
        request.applied_at = now
    request.status, request.decided_by, request.decided_at, request.decision_note = status, user, now, note
    request._change_reason = f"{verb.capitalize()} by {user.username}: {note}"[:100]
    request.save()
    comment_add(user=user, target=request, body=f"{_name(user)} {verb} this request." + (f"\n{note}" if note else ""),
                is_system=True)
    notification_notify(
        recipients=[request.proposed_by], actor=user, kind=Notification.Kind.REQUEST_STATE,
        message=f"{_name(user)} {verb} your request: {request.title}", target=request, url=target_url(request),
    )
    return request


@transaction.atomic
def change_request_withdraw(*, user, change_request: ChangeRequest) -> ChangeRequest:
    request = ChangeRequest.objects.select_for_update().get(pk=change_request.pk)
    if request.proposed_by_id != user.pk:
        raise PermissionDenied("Only the proposer withdraws a request.")
    if not request.is_open:
        raise ValidationError("This request is closed.")
    request.status = ChangeRequest.Status.WITHDRAWN
    request._change_reason = f"Withdrawn by {user.username}"
    request.save()
    comment_add(user=user, target=request, body=f"{_name(user)} withdrew this request.", is_system=True)
    return request
