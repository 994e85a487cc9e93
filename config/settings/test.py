"""Test settings: the same stack (PostGIS, Redis, Celery worker), faster hashing."""

from .base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
WEBHOOK_BACKOFF_SECONDS = 0.2  # retries in tests take fractions of a second
