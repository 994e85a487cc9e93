"""Notifications: written in the same transaction as what caused them, e-mailed by a task after commit."""

import logging

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from collaboration.models import Notification

logger = logging.getLogger(__name__)
_NO_MAIL_BACKENDS = {"", "django.core.mail.backends.dummy.EmailBackend"}


def mail_is_configured() -> bool:
    """E-mail goes out when a real backend is set and COLLABORATION_EMAIL_NOTIFICATIONS is not turned off."""
    backend = getattr(settings, "EMAIL_BACKEND", "") or ""
    return backend not in _NO_MAIL_BACKENDS and getattr(settings, "COLLABORATION_EMAIL_NOTIFICATIONS", True)


def notification_notify(
    *, recipients, actor, kind: str, message: str, target=None, url: str = ""
) -> list[Notification]:
    """Notify each recipient once (never the actor); each e-mail is queued when the transaction commits."""
    seen: set[int] = set()
    rows = []
    content_type = ContentType.objects.get_for_model(target) if target is not None else None
    for recipient in recipients:
        if recipient is None or recipient.pk in seen or (actor is not None and recipient.pk == actor.pk):
            continue
        seen.add(recipient.pk)
        rows.append(Notification(recipient=recipient, actor=actor, kind=kind, message=message[:300], url=url[:300],
                                 content_type=content_type, object_id=target.pk if target is not None else None))
    created = Notification.objects.bulk_create(rows)
    if mail_is_configured():
        for notification in created:
            if notification.recipient.email:
                transaction.on_commit(lambda pk=notification.pk: _queue_email(pk))
    return created


def _queue_email(notification_id: int) -> None:
    from collaboration.tasks import notification_email_task

    try:
        notification_email_task.apply_async(args=(notification_id,), retry=False)
    except Exception as exc:  # the broker is down: the notification is still in the app
        logger.warning("Could not queue the e-mail of notification %s: %s", notification_id, exc)


def notification_email_send(*, notification_id: int) -> bool:
    """Send one notification's e-mail once; a redelivered task finds it sent and does nothing."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update().select_related("recipient").filter(pk=notification_id).first()
        )
        if notification is None or notification.emailed_at is not None or not notification.recipient.email:
            return False
        base_url = getattr(settings, "SITE_URL", "").rstrip("/")
        link = f"\n\n{base_url}{notification.url}" if notification.url else ""
        send_mail(
            subject=f"[Territory Manager] {notification.message[:120]}",
            message=f"{notification.message}{link}",
            from_email=None,
            recipient_list=[notification.recipient.email],
        )
        notification.emailed_at = timezone.now()
        notification.save(update_fields=["emailed_at"])
        return True


def notification_mark_read(*, user, notification_ids: list[int] | None = None) -> int:
    """Mark some (or, with None, all) of the user's unread notifications read; returns how many changed."""
    queryset = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_ids is not None:
        queryset = queryset.filter(pk__in=notification_ids)
    return queryset.update(read_at=timezone.now())
