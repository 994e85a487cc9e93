"""Outgoing webhooks: events are recorded as deliveries and sent, signed, by a Celery task with retries."""

import hashlib
import hmac
import json
import urllib.error
import urllib.request

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from core.models import WebhookDelivery, WebhookSubscription

SIGNATURE_HEADER = "X-Signature"
MAX_ATTEMPTS = 6


def webhook_signature(*, secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_is_subscribed(event: str) -> bool:
    """Whether any active subscription wants `event` (so emitters can skip building a payload nobody reads)."""
    return any(event in events for events in WebhookSubscription.objects.filter(is_active=True)
               .values_list("events", flat=True))


def webhook_emit(*, event: str, payload: dict) -> list[WebhookDelivery]:
    """Record a delivery per subscriber of `event` and send them after the current transaction commits."""
    subscriptions = [s for s in WebhookSubscription.objects.filter(is_active=True) if event in s.events]
    if not subscriptions:
        return []
    body = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    deliveries = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(subscription=s, event=event, payload=body) for s in subscriptions]
    )
    from core.tasks import webhook_deliver_task

    for delivery in deliveries:
        transaction.on_commit(lambda pk=delivery.pk: _send_later(webhook_deliver_task, pk))
    return deliveries


def _send_later(task, delivery_id: int) -> None:
    try:
        task.apply_async(args=(delivery_id,), retry=False)
    except Exception as exc:  # broker down: the delivery stays pending and is listed as such
        WebhookDelivery.objects.filter(pk=delivery_id).update(last_error=f"not queued: {exc}"[:500])


def webhook_deliver(*, delivery_id: int, timeout: float = 10.0) -> bool:
    """Send one delivery once; True when the receiver answered 2xx. Safe to call again after success."""
    delivery = WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)
    if delivery.status == WebhookDelivery.Status.DELIVERED:
        return True
    body = json.dumps({"event": delivery.event, "delivery": delivery.pk, "data": delivery.payload}).encode()
    request = urllib.request.Request(  # noqa: S310 (subscribers register http(s) URLs only; URLField validates)
        delivery.subscription.url, data=body, method="POST",
        headers={"Content-Type": "application/json", "X-Event": delivery.event,
                 SIGNATURE_HEADER: webhook_signature(secret=delivery.subscription.secret, body=body)},
    )
    status, error = None, ""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as exc:
        status, error = exc.code, f"HTTP {exc.code}"
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    delivered = status is not None and 200 <= status < 300
    attempts = delivery.attempts + 1
    if delivered:
        new_status = WebhookDelivery.Status.DELIVERED
    elif attempts >= MAX_ATTEMPTS:
        new_status = WebhookDelivery.Status.FAILED
    else:
        new_status = WebhookDelivery.Status.PENDING
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=attempts, response_status=status, last_error=error[:500], status=new_status,
        delivered_at=timezone.now() if delivered else None,
    )
    return delivered
