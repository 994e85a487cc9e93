"""Alignment scenarios, the territory hierarchy, geo units and the rules that place accounts."""

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.db.models import Q
from simple_history.models import HistoricalRecords


class Scenario(models.Model):
    """One alignment (Salesforce: territory model): planning, active (exactly one) or archived."""

    class Status(models.TextChoices):
        PLANNING = "planning", "Planning"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNING, db_index=True)
    cloned_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="clones")
    previous_active = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The scenario that was active before this one was activated (for rollback).",
    )
    scheduled_activation_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1, help_text="Bumped on every edit; guards concurrent edits.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    optimizer_report = models.JSONField(
        null=True, blank=True, help_text="Figures of the optimiser run that made this scenario (balance, shape, moves)."
    )
    history = HistoricalRecords(excluded_fields=["optimizer_report"])

    class Meta:
        ordering = ["-status", "name"]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="active"), name="one_active_scenario"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.PLANNING


class ScenarioEvent(models.Model):
    """An audit line for a scenario's life: cloned, activated, scheduled, rolled back, archived."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        CLONED = "cloned", "Cloned"
        ACTIVATED = "activated", "Activated"
        SCHEDULED = "scheduled", "Activation scheduled"
        ROLLED_BACK = "rolled_back", "Rolled back"
        ARCHIVED = "archived", "Archived"

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=16, choices=Action.choices)
    detail = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]


class TerritoryType(models.Model):
    """How a territory is defined (geography, segment, product, industry, named accounts) and its precedence."""

    class Kind(models.TextChoices):
        GEOGRAPHY = "geography", "Geography"
        SEGMENT = "segment", "Customer segment"
        PRODUCT = "product", "Product line"
        INDUSTRY = "industry", "Vertical industry"
        NAMED = "named", "Named accounts"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    priority = models.PositiveIntegerField(
        unique=True, help_text="Lower wins when an account fits territories of several types at one level."
    )
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["priority"]

    def __str__(self) -> str:
        return self.name


class Territory(models.Model):
    """A node of a scenario's hierarchy (region, district, territory ...), optionally with a boundary."""

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="territories")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    depth = models.PositiveSmallIntegerField(default=0, help_text="0 for a root; kept equal to the parent's + 1.")
    level_name = models.CharField(max_length=50, blank=True, help_text="region, district, territory ...")
    name = models.CharField(max_length=200)
    code = models.CharField(max_length=64)
    territory_type = models.ForeignKey(TerritoryType, null=True, blank=True, on_delete=models.PROTECT)
    boundary = models.MultiPolygonField(srid=4326, null=True, blank=True)
    built_from_units = models.BooleanField(
        default=False, help_text="The boundary is the union of its geo units and is rebuilt when they change."
    )
    is_locked = models.BooleanField(default=False, help_text="A finished territory: edits and the optimiser leave it.")
    color = models.CharField(max_length=7, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["boundary"])

    class Meta:
        ordering = ["scenario", "depth", "code"]
        verbose_name_plural = "territories"
        constraints = [models.UniqueConstraint(fields=["scenario", "code"], name="territory_code_unique_in_scenario")]
        indexes = [models.Index(fields=["scenario", "parent"])]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class GeoUnitLayer(models.Model):
    """A set of imported polygons of one kind: postcodes, counties, states, hexagonal cells ..."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=32, blank=True)
    source = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class GeoUnit(models.Model):
    """One basic geographic unit (a postcode, a county, a hexagon) that territories are built from."""

    layer = models.ForeignKey(GeoUnitLayer, on_delete=models.CASCADE, related_name="units")
    code = models.CharField(max_length=64)
    name = models.CharField(max_length=200, blank=True)
    geometry = models.MultiPolygonField(srid=4326)
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["layer", "code"]
        constraints = [models.UniqueConstraint(fields=["layer", "code"], name="geounit_code_unique_in_layer")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}".strip()


class TerritoryUnit(models.Model):
    """A geo unit's place in one territory of a scenario (one territory per unit per scenario)."""

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="territory_units")
    territory = models.ForeignKey(Territory, on_delete=models.CASCADE, related_name="territory_units")
    unit = models.ForeignKey(GeoUnit, on_delete=models.CASCADE, related_name="territory_units")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scenario", "unit"], name="geounit_once_per_scenario")]


class AssignmentRule(models.Model):
    """Field criteria (and optionally the territory's geography) that pull accounts into a territory."""

    class Logic(models.TextChoices):
        ALL = "all", "All criteria match"
        ANY = "any", "Any criterion matches"

    territory = models.ForeignKey(Territory, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=200)
    priority = models.PositiveIntegerField(default=100, help_text="Lower is evaluated first.")
    logic = models.CharField(max_length=3, choices=Logic.choices, default=Logic.ALL)
    criteria = models.JSONField(
        default=list, blank=True,
        help_text='A list of {"field": ..., "op": ..., "value": ...}; see the README for fields and operators.',
    )
    within_boundary = models.BooleanField(
        default=True, help_text="Also require the account to lie inside the territory's boundary."
    )
    applies_to_children = models.BooleanField(default=False, help_text="Child territories inherit this rule.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["priority", "pk"]

    def __str__(self) -> str:
        return self.name


class ScenarioEdit(models.Model):
    """One gesture on the map workspace (units or accounts moved, a boundary redrawn) with its inverse, for undo."""

    class Kind(models.TextChoices):
        MOVE_UNITS = "move_units", "Geo units moved"
        MOVE_ACCOUNTS = "move_accounts", "Accounts moved"
        RESHAPE = "reshape", "Boundary redrawn"

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="edits")
    sequence = models.PositiveIntegerField(help_text="Order of the edit within its scenario, from 1.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    forward = models.JSONField(default=dict, help_text="The change as applied; redo applies it again.")
    inverse = models.JSONField(default=dict, help_text="The change that restores the state before; undo applies it.")
    summary = models.CharField(max_length=300, blank=True)
    territory_ids = ArrayField(models.BigIntegerField(), default=list, blank=True,
                               help_text="Territories the edit touched, for their history.")
    is_undone = models.BooleanField(default=False)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["scenario", "-sequence"]
        constraints = [models.UniqueConstraint(fields=["scenario", "sequence"], name="scenario_edit_sequence_unique")]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.get_kind_display()}"


class OptimizerAlternative(models.Model):
    """A trade-off point of a realignment run (balance against disruption) that a manager may make a scenario of.

    The run writes its plan as a scenario; the points at tighter and looser tolerances are kept here as the units
    they move away from the source's current alignment, with their report, so no scenario is cloned for a point
    nobody chooses."""

    run = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="optimizer_alternatives",
                            help_text="The scenario the realignment wrote (its plan).")
    tolerance_factor = models.FloatField(help_text="The point's tolerances as a multiple of the plan's.")
    changes = models.JSONField(default=list, help_text="[unit id, territory code] of every unit the point moves.")
    report = models.JSONField(default=dict, help_text="The point's own figures, as a run's report.")
    source_digest = models.CharField(
        max_length=64, help_text="Of the source's units, alignment and measures when the run read them."
    )
    adopted_as = models.ForeignKey(Scenario, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                   help_text="The scenario made of this point, once a manager chose it.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "tolerance_factor"]
        constraints = [
            models.UniqueConstraint(fields=["run", "tolerance_factor"], name="optimizer_alternative_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.run.name}: tolerance × {self.tolerance_factor:g}"
