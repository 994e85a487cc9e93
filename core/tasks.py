from celery import shared_task

from core.webhooks import MAX_ATTEMPTS, webhook_deliver


@shared_task(bind=True, max_retries=MAX_ATTEMPTS - 1, acks_late=True)
def webhook_deliver_task(self, delivery_id: int) -> bool:
    if webhook_deliver(delivery_id=delivery_id):
        return True
    from core.models import WebhookDelivery

    if WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING).exists():
        # Exponential backoff: 2, 4, 8, 16, 32 s between attempts (scaled by WEBHOOK_BACKOFF_SECONDS).
        from django.conf import settings

        raise self.retry(countdown=getattr(settings, "WEBHOOK_BACKOFF_SECONDS", 2) * 2**self.request.retries)
    return False


@shared_task
def job_fail_stale_task() -> dict:
    """Beat runs this every few minutes: jobs whose worker died are shown as failed and retryable, and jobs
    that could not be queued while the broker was down are sent now that it answers (beat itself needs it)."""
    from django.conf import settings

    from core.services import job_fail_stale, job_resend_unsent

    return {"failed": job_fail_stale(older_than_seconds=settings.JOB_STALE_SECONDS), "resent": job_resend_unsent()}
