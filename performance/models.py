"""Goals, field activity, pipeline and the KPI snapshots computed from them."""

from django.conf import settings
from django.db import models


class Quota(models.Model):
    """A goal for a territory or a rep over an explicit date range."""

    class Metric(models.TextChoices):
        REVENUE = "revenue", "Revenue won"
        PIPELINE = "pipeline", "Pipeline created"
        VISITS = "visits", "Visits"
        NEW_ACCOUNTS = "new_accounts", "New accounts"

    territory = models.ForeignKey("territories.Territory", null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="quotas")
    rep = models.ForeignKey("reps.Rep", null=True, blank=True, on_delete=models.CASCADE, related_name="quotas")
    metric = models.CharField(max_length=16, choices=Metric.choices, default=Metric.REVENUE)
    period_start = models.DateField()
    period_end = models.DateField()
    target = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["-period_start"]
        constraints = [
            models.CheckConstraint(condition=models.Q(period_end__gte=models.F("period_start")),
                                   name="quota_period_order"),
            models.CheckConstraint(condition=models.Q(territory__isnull=False) | models.Q(rep__isnull=False),
                                   name="quota_has_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} {self.target} ({self.period_start} to {self.period_end})"


class Activity(models.Model):
    """A visit, call, email or meeting with an account."""

    class Kind(models.TextChoices):
        VISIT = "visit", "Visit"
        CALL = "call", "Call"
        EMAIL = "email", "Email"
        MEETING = "meeting", "Meeting"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="activities")
    rep = models.ForeignKey("reps.Rep", null=True, blank=True, on_delete=models.SET_NULL, related_name="activities")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    occurred_at = models.DateTimeField(db_index=True)
    duration_minutes = models.PositiveIntegerField(default=30)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name_plural = "activities"
        indexes = [models.Index(fields=["account", "-occurred_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.occurred_at:%Y-%m-%d}"


class Opportunity(models.Model):
    """A potential deal with an account, through its stages to won or lost."""

    class Stage(models.TextChoices):
        PROSPECTING = "prospecting", "Prospecting"
        QUALIFIED = "qualified", "Qualified"
        PROPOSAL = "proposal", "Proposal"
        NEGOTIATION = "negotiation", "Negotiation"
        WON = "won", "Closed won"
        LOST = "lost", "Closed lost"

    external_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="opportunities")
    rep = models.ForeignKey("reps.Rep", null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="opportunities")
    name = models.CharField(max_length=200)
    product = models.CharField(max_length=64, blank=True)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.PROSPECTING, db_index=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    created_date = models.DateField()
    close_date = models.DateField(db_index=True)

    class Meta:
        ordering = ["-close_date"]
        verbose_name_plural = "opportunities"

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.stage not in {self.Stage.WON, self.Stage.LOST}


class KpiSnapshot(models.Model):
    """Measures of one territory or rep over one period, as computed by the last KPI job."""

    class Scope(models.TextChoices):
        TERRITORY = "territory", "Territory"
        REP = "rep", "Rep"
        LEVEL = "level", "Hierarchy level"
        SCENARIO = "scenario", "Whole scenario"

    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.TERRITORY)
    level = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Hierarchy depth, for level rows.")
    scenario = models.ForeignKey("territories.Scenario", on_delete=models.CASCADE, related_name="kpi_snapshots")
    territory = models.ForeignKey("territories.Territory", null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="kpi_snapshots")
    rep = models.ForeignKey("reps.Rep", null=True, blank=True, on_delete=models.CASCADE,
                            related_name="kpi_snapshots")
    period_start = models.DateField()
    period_end = models.DateField()
    metrics = models.JSONField(default=dict)
    flags = models.JSONField(default=list, blank=True, help_text="under_performing, unbalanced ...")
    computed_at = models.DateTimeField(auto_now=True)
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL)
    computed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    base_totals = models.JSONField(
        default=dict, blank=True,
        help_text="Additive totals of the accounts assigned directly to this territory; an incremental run "
                  "recomputes these for a few territories and re-adds the stored ones for the rest.",
    )

    class Meta:
        ordering = ["-period_start"]
        indexes = [models.Index(fields=["scenario", "period_start", "period_end"])]
        constraints = [
            # One row per subject and period, so a rerun updates in place (the recompute upserts on it).
            models.UniqueConstraint(
                fields=["scenario", "scope", "territory", "rep", "level", "period_start", "period_end"],
                nulls_distinct=False, name="kpi_snapshot_one_per_subject_period",
            ),
        ]

    def __str__(self) -> str:
        subject = self.territory or self.rep or (f"level {self.level}" if self.level is not None else "scenario")
        return f"KPIs of {subject} {self.period_start} to {self.period_end}"


class AccountActivitySummary(models.Model):
    """Per-account figures the rep's book sorts by: derived data, kept by database triggers.

    Statement-level triggers on the activity and opportunity tables (migration 0004) recompute the rows of the
    accounts a statement touched, whatever wrote it (services, bulk SQL, the admin), so the summary is never
    stale and no code path has to remember it. `last_visit_at` is the latest visit or meeting ever logged,
    including future-dated ones; readers asking "as of" a moment fall back to the activity table when it is later.
    """

    account = models.OneToOneField(
        "accounts.Account", on_delete=models.CASCADE, primary_key=True, related_name="activity_summary",
        db_constraint=False,  # migration 0004 adds it with ON DELETE CASCADE (see there why)
    )
    last_visit_at = models.DateTimeField(null=True)
    open_opportunities = models.IntegerField(default=0)
    open_amount = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    next_close_date = models.DateField(null=True)

    class Meta:
        verbose_name_plural = "account activity summaries"

    def __str__(self) -> str:
        return f"Summary of account {self.account_id}"


class SharedAccountsCache(models.Model):
    """The accounts a scenario's territories hold more than once (an overlay beside the geographic territory), as of
    one state of its assignments. KPI rollups subtract their repeats; finding them reads every assignment in force
    (most of a second at a million), so a run does it only when the state changed since the last one."""

    scenario = models.OneToOneField("territories.Scenario", on_delete=models.CASCADE, related_name="+")
    fingerprint = models.CharField(
        max_length=64, help_text="Of the scenario's per-territory assignment digests when the pairs were found."
    )
    pairs = models.JSONField(default=list, help_text="[account id, territory id] of every account held twice or more.")
    computed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Accounts held more than once in scenario {self.scenario_id}: {len(self.pairs)} assignments"
