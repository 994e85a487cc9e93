"""Customer accounts and their effective-dated place in territories."""

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.db.models import Q
from simple_history.models import HistoricalRecords


class Account(models.Model):
    """A customer or prospect, located on the map, with the measures territories are balanced on."""

    class Segment(models.TextChoices):
        ENTERPRISE = "enterprise", "Enterprise"
        MID_MARKET = "mid_market", "Mid-market"
        SMALL_BUSINESS = "small_business", "Small business"

    class CustomerType(models.TextChoices):
        B2B = "b2b", "B2B"
        B2C = "b2c", "B2C"

    class Tier(models.TextChoices):
        A = "A", "A"
        B = "B", "B"
        C = "C", "C"
        D = "D", "D"

    class Status(models.TextChoices):
        PROSPECT = "prospect", "Prospect"
        CUSTOMER = "customer", "Customer"
        INACTIVE = "inactive", "Inactive"

    external_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    street = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, default="US")
    location = models.PointField(srid=4326, null=True, blank=True)
    industry = models.CharField(max_length=64, blank=True)
    segment = models.CharField(max_length=16, choices=Segment.choices, blank=True)
    customer_type = models.CharField(max_length=3, choices=CustomerType.choices, default=CustomerType.B2B)
    products = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    employees = models.PositiveIntegerField(null=True, blank=True)
    annual_revenue = models.DecimalField(max_digits=14, decimal_places=2, default=0, help_text="Our revenue from it.")
    potential = models.DecimalField(max_digits=14, decimal_places=2, default=0, help_text="Estimated sales potential.")
    tier = models.CharField(max_length=1, choices=Tier.choices, default=Tier.C)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CUSTOMER)
    workload_hours = models.FloatField(default=0, help_text="Yearly hours of field work it needs.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        # Only what queries use: lists are ordered by name. Filters on industry and postal code are
        # case-insensitive (UPPER(...)), which no plain index serves, so those columns carry none; every index
        # costs each imported row (10 -> 5 indexes cut the INSERT of an import by a third at a million accounts).
        indexes = [models.Index(fields=["name"], name="account_name")]

    def __str__(self) -> str:
        return self.name


class AllocationRun(models.Model):
    """One run of the allocation rules over a scenario (or a preview of it), with its counts."""

    scenario = models.ForeignKey("territories.Scenario", on_delete=models.CASCADE, related_name="allocation_runs")
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL)
    is_preview = models.BooleanField(default=False)
    summary = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class AccountOverride(models.Model):
    """A manager's explicit decision for one account in one scenario: put it here, or keep it out of there."""

    class Kind(models.TextChoices):
        ASSIGN = "assign", "Assign to territory"
        EXCLUDE = "exclude", "Exclude from territory"

    scenario = models.ForeignKey("territories.Scenario", on_delete=models.CASCADE, related_name="overrides")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="overrides")
    territory = models.ForeignKey("territories.Territory", on_delete=models.CASCADE, related_name="overrides")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.ASSIGN)
    reason = models.CharField(max_length=300, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["scenario", "account"], condition=Q(is_active=True, kind="assign"),
                name="one_active_assign_override_per_account",
            )
        ]


class AccountAssignment(models.Model):
    """An account's territory in a scenario over a time span, and why it is there.

    Allocation runs write these in bulk (a million rows in one INSERT ... SELECT), so the foreign keys carry no
    database constraint: a per-row referential check costs more than the rest of the run. The ids always come
    from joins with the referenced tables, and deletes still cascade through Django's collector (on_delete).
    """

    class Source(models.TextChoices):
        RULE = "rule", "Assignment rule"
        OVERRIDE = "override", "Manual override"
        GEOGRAPHY = "geography", "Territory boundary"
        OPTIMIZER = "optimizer", "Optimiser run"
        MANUAL = "manual", "Moved on the map"
        IMPORT = "import", "Imported"

    # current rows are indexed by the partial indexes below; whole-scenario reads are scans anyway
    scenario = models.ForeignKey("territories.Scenario", on_delete=models.CASCADE, related_name="assignments",
                                 db_constraint=False, db_index=False)
    # indexed by assignment_account_hist (account, valid_from)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="assignments", db_constraint=False,
                                db_index=False)
    # indexed by assignment_territory (territory, valid_to): current rows and history, one index to maintain
    territory = models.ForeignKey("territories.Territory", on_delete=models.CASCADE, related_name="assignments",
                                  db_constraint=False, db_index=False)
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True, help_text="Empty while current.")
    source = models.CharField(max_length=16, choices=Source.choices)
    # rule and override are indexed only where set (see Meta); run not at all: runs are rarely deleted
    rule = models.ForeignKey("territories.AssignmentRule", null=True, blank=True, on_delete=models.SET_NULL,
                             db_constraint=False, db_index=False)
    override = models.ForeignKey(AccountOverride, null=True, blank=True, on_delete=models.SET_NULL,
                                 db_constraint=False, db_index=False)
    run = models.ForeignKey(AllocationRun, null=True, blank=True, on_delete=models.SET_NULL, db_constraint=False,
                            db_index=False)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["scenario", "account", "territory"], condition=Q(valid_to__isnull=True),
                name="one_current_assignment_per_account_territory",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                name="assignment_valid_range",
            ),
        ]
        indexes = [
            # One index serves "current rows of a territory" (valid_to IS NULL is an index condition), its history
            # and cascades. A second territory-keyed index doubled the cost of a bulk write: rows go in account
            # order, so territory-keyed btrees take random inserts, the bulk of a million-row write.
            models.Index(fields=["territory", "valid_to"], name="assignment_territory"),
            models.Index(fields=["account", "valid_from"], name="assignment_account_hist"),
            models.Index(fields=["rule"], condition=Q(rule__isnull=False), name="assignment_rule"),
            models.Index(fields=["override"], condition=Q(override__isnull=False), name="assignment_override"),
        ]


class TerritoryAssignmentDigest(models.Model):
    """A change to the fingerprint of one territory's assignments in force: how many were added (negative: removed),
    and the XOR of a 64-bit hash of each one's (account, source, rule, override), the columns an allocation compares.
    A territory's fingerprint is the sum and XOR of its rows (assignment_digests_read).

    Statement-level triggers on the assignment table append one row per territory a statement changed (migration
    0008), so every write through the table keeps the fingerprints exact; appending takes no lock that another
    writer waits for. A full allocation folds a scenario's rows into one per territory as it reads them, and the
    bulk path that attaches a scenario's own partition rebuilds them (accounts.services.assignment_partitions).
    XOR, because adding and removing a row are the same operation and a territory holds an account at most once
    at a time.
    """

    territory = models.ForeignKey("territories.Territory", on_delete=models.DO_NOTHING, db_constraint=False,
                                  db_index=False, related_name="+")
    scenario = models.ForeignKey("territories.Scenario", on_delete=models.DO_NOTHING, db_constraint=False,
                                 related_name="+")
    rows = models.BigIntegerField()
    digest = models.BigIntegerField()

    def __str__(self) -> str:
        return f"territory {self.territory_id}: {self.rows:+} assignments in force"
