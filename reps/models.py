"""Sales reps, teams, their assignment to territories, and visit cadences."""

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from simple_history.models import HistoricalRecords


class Team(models.Model):
    """A group of reps under one manager."""

    name = models.CharField(max_length=100, unique=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="managed_teams"
    )

    def __str__(self) -> str:
        return self.name


class Rep(models.Model):
    """A salesperson: where they live, what they know, how senior they are and how much they can carry."""

    class Role(models.TextChoices):
        FIELD = "field", "Field rep"
        OVERLAY = "overlay", "Overlay"
        SPECIALIST = "specialist", "Product specialist"

    class Seniority(models.IntegerChoices):
        ASSOCIATE = 1, "Associate"
        REP = 2, "Account executive"
        SENIOR = 3, "Senior account executive"
        PRINCIPAL = 4, "Principal"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="rep"
    )
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="reps")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.FIELD)
    home_location = models.PointField(srid=4326, null=True, blank=True)
    home_city = models.CharField(max_length=100, blank=True)
    industries = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    products = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    seniority = models.PositiveSmallIntegerField(choices=Seniority.choices, default=Seniority.REP)
    capacity_hours = models.FloatField(default=1400, help_text="Yearly hours available for field work.")
    is_active = models.BooleanField(default=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RepAssignment(models.Model):
    """A rep (or a vacancy, when rep is empty) covering a territory in a role over a span of dates."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        OVERLAY = "overlay", "Overlay"
        SPECIALIST = "specialist", "Specialist"

    rep = models.ForeignKey(Rep, null=True, blank=True, on_delete=models.CASCADE, related_name="assignments")
    territory = models.ForeignKey("territories.Territory", on_delete=models.CASCADE, related_name="rep_assignments")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.OWNER)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["territory", "role", "-valid_from"]
        indexes = [models.Index(fields=["territory", "valid_to"]), models.Index(fields=["rep", "valid_to"])]

    @property
    def is_vacancy(self) -> bool:
        return self.rep_id is None


class VisitCadence(models.Model):
    """How often an account of a tier should be visited, and how long a visit takes."""

    tier = models.CharField(max_length=1, unique=True)
    visits_per_year = models.PositiveIntegerField()
    minutes_per_visit = models.PositiveIntegerField(default=60)

    class Meta:
        ordering = ["tier"]

    def __str__(self) -> str:
        return f"Tier {self.tier}: {self.visits_per_year}/year"
