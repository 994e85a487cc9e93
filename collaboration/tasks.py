"""Celery tasks of the collaboration app: thin, idempotent, taking ids."""

from celery import shared_task

from collaboration.services.notifications import notification_email_send


@shared_task(acks_late=True, autoretry_for=(ConnectionError, TimeoutError), retry_backoff=True, max_retries=5)
def notification_email_task(notification_id: int) -> bool:
    """E-mail one notification (sent once however often the message is delivered)."""
    return notification_email_send(notification_id=notification_id)
