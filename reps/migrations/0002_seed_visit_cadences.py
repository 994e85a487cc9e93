"""Default visit cadences per account tier; managers change them afterwards (they are only created if missing)."""

from django.db import migrations

DEFAULTS = [("A", 26, 60), ("B", 12, 60), ("C", 4, 45), ("D", 1, 30)]


def seed(apps, schema_editor):
    VisitCadence = apps.get_model("reps", "VisitCadence")
    for tier, visits_per_year, minutes in DEFAULTS:
        VisitCadence.objects.get_or_create(
            tier=tier, defaults={"visits_per_year": visits_per_year, "minutes_per_visit": minutes}
        )


def unseed(apps, schema_editor):
    VisitCadence = apps.get_model("reps", "VisitCadence")
    for tier, visits_per_year, minutes in DEFAULTS:
        VisitCadence.objects.filter(tier=tier, visits_per_year=visits_per_year, minutes_per_visit=minutes).delete()


class Migration(migrations.Migration):
    dependencies = [("reps", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
