"""The Celery application: tasks are just another interface to the services."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("territory_manager")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
