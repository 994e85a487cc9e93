"""The nightly KPI recompute, as a django-celery-beat row that managers can edit or pause in the admin."""

from django.conf import settings
from django.db import migrations

TASK_NAME = "performance.tasks.kpi_recompute_scheduled_task"
SCHEDULE_NAME = "Nightly KPI recompute"


def schedule_create(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="2", day_of_week="*", day_of_month="*", month_of_year="*", timezone=settings.TIME_ZONE
    )
    # get_or_create keeps an admin's later edits (time, enabled) if the migration is ever re-applied.
    PeriodicTask.objects.get_or_create(
        name=SCHEDULE_NAME,
        defaults={"task": TASK_NAME, "crontab": crontab, "enabled": True,
                  "description": "Recompute the active scenario's KPIs for the current and recent periods."},
    )


def schedule_delete(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("performance", "0002_kpi_snapshot_scope"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_create, schedule_delete)]
