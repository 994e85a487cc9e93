"""Every minute, beat runs the task that activates scenarios whose scheduled activation time has come.

A django-celery-beat row (DatabaseScheduler), so it can be paused or re-timed in the admin.
"""

from django.db import migrations

TASK_NAME = "territories.tasks.scenario_activation_due_task"
SCHEDULE_NAME = "Activate scheduled scenarios"


def schedule_create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=SCHEDULE_NAME,
        defaults={"task": TASK_NAME, "interval": every_minute, "enabled": True,
                  "description": "Activate planning scenarios whose scheduled activation time has passed."},
    )


def schedule_delete(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("territories", "0002_scenario_edit"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_create, schedule_delete)]
