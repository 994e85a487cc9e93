"""Change requests, comments, notifications, territory sales plans and shared read-only views."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords


class ChangeRequest(models.Model):
    """A proposed change to a scenario's alignment, its computed impact, and the manager's decision."""

    class Kind(models.TextChoices):
        MOVE_ACCOUNTS = "move_accounts", "Move accounts"
        MOVE_UNITS = "move_units", "Move geo units"
        CHANGE_RULE = "change_rule", "Change an assignment rule"
        REASSIGN_REP = "reassign_rep", "Reassign a rep"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a decision"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        APPROVED = "approved", "Approved and applied"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"

    OPEN_STATUSES = (Status.PENDING, Status.CHANGES_REQUESTED)

    scenario = models.ForeignKey("territories.Scenario", on_delete=models.CASCADE, related_name="change_requests")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    title = models.CharField(max_length=200)
    reason = models.TextField(help_text="Why the change is needed; recorded as the reason of what it changes.")
    payload = models.JSONField(default=dict, help_text="What to change; its shape depends on the kind.")
    territory_ids = ArrayField(
        models.BigIntegerField(), default=list, blank=True,
        help_text="Territories the change touches (sources and destinations), for scope and visibility.",
    )
    impact = models.JSONField(default=dict, blank=True, help_text="What moves and the balance before and after.")
    impact_computed_at = models.DateTimeField(null=True, blank=True)
    base_scenario_version = models.PositiveIntegerField(help_text="The scenario's version when filed or refreshed.")
    base_state = models.JSONField(
        default=dict, blank=True,
        help_text="The rows the change depends on (assignment ids ...) when filed; a difference means a conflict.",
    )
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                    related_name="change_requests")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        permissions = [("decide_changerequest", "Can approve, reject or return change requests")]
        indexes = [models.Index(fields=["scenario", "status"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def reason_label(self) -> str:
        """What the changed rows record as their reason (AccountAssignment.reason is 300 characters)."""
        return f"Change request #{self.pk}: {self.reason}"[:300]


class Comment(models.Model):
    """A message in the thread of a territory, account, scenario, change request or sales plan."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="comments")
    body = models.TextField()
    is_system = models.BooleanField(default=False, help_text="Written by the application (a state change).")
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in")
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["content_type", "object_id", "created_at"])]

    def __str__(self) -> str:
        return self.body[:60]


class Notification(models.Model):
    """Something a person should see: a mention, a request or plan that changed state."""

    class Kind(models.TextChoices):
        MENTION = "mention", "Mentioned"
        REQUEST_FILED = "request_filed", "Request to decide"
        REQUEST_STATE = "request_state", "Request changed state"
        PLAN_STATE = "plan_state", "Sales plan changed state"
        COMMENT = "comment", "New comment"

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    message = models.CharField(max_length=300)
    url = models.CharField(max_length=300, blank=True)
    content_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    target = GenericForeignKey("content_type", "object_id")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread")]

    def __str__(self) -> str:
        return self.message

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class SalesPlan(models.Model):
    """A territory's written plan for one period: goals, strategy, key accounts, actions, and its review."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        APPROVED = "approved", "Approved"
        REVIEWED = "reviewed", "Reviewed"

    territory = models.ForeignKey("territories.Territory", on_delete=models.CASCADE, related_name="sales_plans")
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    strategy = models.TextField(blank=True)
    key_accounts = models.ManyToManyField("accounts.Account", blank=True, related_name="sales_plans")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                               related_name="sales_plans")
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review = models.JSONField(default=dict, blank=True, help_text="Goals against the KPIs at period end.")
    review_comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-period_start", "territory"]
        permissions = [("approve_salesplan", "Can approve sales plans")]
        constraints = [
            models.UniqueConstraint(fields=["territory", "period_start", "period_end"],
                                    name="one_sales_plan_per_territory_period"),
            models.CheckConstraint(condition=Q(period_end__gte=models.F("period_start")),
                                   name="sales_plan_period_order"),
        ]

    def __str__(self) -> str:
        return f"Plan {self.territory} {self.period_start} to {self.period_end}"


class SalesPlanGoal(models.Model):
    """A target of a sales plan, usually one of the territory's quotas for the period."""

    class Metric(models.TextChoices):
        REVENUE = "revenue", "Revenue won"
        PIPELINE = "pipeline", "Pipeline created"
        VISITS = "visits", "Visits"
        NEW_ACCOUNTS = "new_accounts", "New accounts"

    plan = models.ForeignKey(SalesPlan, on_delete=models.CASCADE, related_name="goals")
    quota = models.ForeignKey("performance.Quota", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="plan_goals")
    metric = models.CharField(max_length=16, choices=Metric.choices)
    target = models.DecimalField(max_digits=14, decimal_places=2)
    description = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["plan", "pk"]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} {self.target}"


class SalesPlanAction(models.Model):
    """A step of a sales plan, with who does it and by when."""

    plan = models.ForeignKey(SalesPlan, on_delete=models.CASCADE, related_name="actions")
    description = models.CharField(max_length=300)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="plan_actions")
    due_date = models.DateField()
    account = models.ForeignKey("accounts.Account", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    is_done = models.BooleanField(default=False)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["plan", "due_date", "pk"]

    def __str__(self) -> str:
        return self.description


class ShareLink(models.Model):
    """A signed, expiring link that shows a scenario's map and tables read-only to someone without an account."""

    scenario = models.ForeignKey("territories.Scenario", on_delete=models.CASCADE, related_name="share_links")
    label = models.CharField(max_length=200, blank=True, help_text="Who it was made for.")
    prefix = models.CharField(max_length=12, db_index=True, help_text="The visible start of the token.")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    view_count = models.PositiveIntegerField(default=0)
    last_viewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.label or self.scenario} ({self.prefix}…)"
