"""Cross-cutting records: background jobs and their progress."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who signs in: an admin, a sales manager or a sales rep (roles are groups)."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    def has_role(self, role: str) -> bool:
        from core.roles import user_group_names

        return self.is_superuser and role == "admin" or role in user_group_names(self)

    @property
    def is_manager(self) -> bool:
        from core.roles import user_group_names  # read once per user object (a request's user: once a request)

        return self.is_superuser or bool(user_group_names(self) & {"admin", "sales manager"})


class Job(models.Model):
    """One background command (allocation, import, optimiser, KPI recompute ...), its progress and outcome."""

    class Kind(models.TextChoices):
        ALLOCATION = "allocation", "Allocation run"
        ALLOCATION_PREVIEW = "allocation_preview", "Allocation preview"
        ACCOUNT_IMPORT = "account_import", "Account import"
        GEO_UNIT_IMPORT = "geo_unit_import", "Geo unit import"
        OPPORTUNITY_IMPORT = "opportunity_import", "Opportunity import"
        OPTIMIZER = "optimizer", "Optimiser run"
        KPI_RECOMPUTE = "kpi_recompute", "KPI recompute"
        ACTIVATION = "activation", "Scenario activation"
        ROLLBACK = "rollback", "Scenario rollback"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0, help_text="0 to 100")
    message = models.CharField(max_length=500, blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    idempotency_key = models.CharField(max_length=200, blank=True)
    task_name = models.CharField(max_length=200, blank=True, help_text="The Celery task that runs it, for retries.")
    task_args = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life from its worker.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="job_unique_idempotency_key_per_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED}


class ApiToken(models.Model):
    """A secret an integration sends instead of a session; only its hash is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, db_index=True, help_text="The visible start of the token, to find it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class WebhookSubscription(models.Model):
    """An integration's URL that receives chosen events, signed with its secret."""

    class Event(models.TextChoices):
        ACCOUNT_REASSIGNED = "account.reassigned", "Account reassigned"
        SCENARIO_ACTIVATED = "scenario.activated", "Scenario activated"
        JOB_FINISHED = "job.finished", "Job finished"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text="Event names this subscription receives.")
    secret = models.CharField(max_length=100, help_text="Shared secret for the X-Signature HMAC-SHA256 header.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One attempt history of sending one event to one subscription."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed after retries"

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=50)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription_id} ({self.status})"
