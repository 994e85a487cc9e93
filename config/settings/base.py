"""Settings shared by every environment; environments differ only by environment variables."""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


SECRET_KEY = env("DJANGO_SECRET_KEY", "dev-only-insecure-key-change-me")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = [h for h in (env("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]") or "").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "rest_framework_gis",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "leaflet",
    "django_celery_beat",
    "simple_history",
    "core",
    "reps",
    "territories",
    "accounts",
    "performance",
    "collaboration",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "core.request_memo.RequestMemoMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.navigation",
            ],
        },
    },
]

DEFAULT_DATABASE_URL = "postgis://territory:territory@127.0.0.1:5432/territory"
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", DEFAULT_DATABASE_URL), conn_max_age=int(env("DATABASE_CONN_MAX_AGE", "60"))
    )
}
# GeoDjango needs the PostGIS backend whatever scheme the URL used.
DATABASES["default"]["ENGINE"] = "django.contrib.gis.db.backends.postgis"
# Set on connecting:
# - temp_buffers: allocation runs and imports work in temporary tables of a few hundred MB, which PostgreSQL's 8 MB
#   default sends to disk files; the buffers are taken only as temporary tables fill them, and can only be set
#   before a session's first temporary table;
# - jit: the app's statements are short, and JIT compiled a large book's page for longer (0.16-0.3 s) than it then
#   ran; DATABASE_JIT=on gives it back (docker-compose's PostgreSQL has it off too).
DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
    f"-c temp_buffers={env('DATABASE_TEMP_BUFFERS', '256MB')} -c jit={env('DATABASE_JIT', 'off')}"
)
if env("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(env("DATABASE_REPLICA_URL"), conn_max_age=60)
    DATABASES["replica"]["ENGINE"] = "django.contrib.gis.db.backends.postgis"
    DATABASES["replica"]["OPTIONS"] = {"options": f"-c jit={env('DATABASE_JIT', 'off')}"}
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["config.db_router.ReadReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# Periods (months, quarters) are cut in this zone; datetimes are stored in UTC.
TIME_ZONE = env("TIME_ZONE", "America/Chicago")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "/media/"

# Libraries found on the system by default; override where GDAL or GEOS live elsewhere.
if env("GDAL_LIBRARY_PATH"):
    GDAL_LIBRARY_PATH = env("GDAL_LIBRARY_PATH")
if env("GEOS_LIBRARY_PATH"):
    GEOS_LIBRARY_PATH = env("GEOS_LIBRARY_PATH")

# Debian 12 ships GDAL 3.6, older than Django 5.2 would like; it works for everything used here.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", "tm"),
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_DEFAULT_QUEUE", "default")
# Long optimiser runs get their own queue so they never starve short jobs.
CELERY_TASK_ROUTES = {"territories.tasks.optimizer_run_task": {"queue": env("CELERY_OPTIMIZER_QUEUE", "optimizer")}}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "visibility_timeout": 3600}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.tokens.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "EXCEPTION_HANDLER": "core.api_errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.UserThrottle", "core.throttling.AnonThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": env("API_RATE_USER", "3000/min"), "anon": env("API_RATE_ANON", "60/min")},
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    # A page past the end is an empty page, not an undocumented 404, in every app (not only those that say so).
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.PagePagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.ErrorDocumentingAutoSchema",
    "DEFAULT_VERSIONING_CLASS": "core.versioning.ApiNamespaceVersioning",
    "DEFAULT_VERSION": "v1",
    "ALLOWED_VERSIONS": ["v1"],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Territory Manager API",
    "DESCRIPTION": "Design territories, allocate accounts, assign reps, plan coverage and monitor performance.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI is served from the installed sidecar package, never from a CDN.
    "PREPROCESSING_HOOKS": ["core.schema.only_public_api"],
    # Several models have a Kind, Status or Role; name each enum after its model so the schema stays stable.
    "ENUM_NAME_OVERRIDES": {
        "ScenarioStatusEnum": "territories.models.Scenario.Status",
        "TerritoryTypeKindEnum": "territories.models.TerritoryType.Kind",
        "ScenarioEditKindEnum": "territories.models.ScenarioEdit.Kind",
        "RepRoleEnum": "reps.models.Rep.Role",
        "RepAssignmentRoleEnum": "reps.models.RepAssignment.Role",
        "ActivityKindEnum": "performance.models.Activity.Kind",
        "ChangeRequestKindEnum": "collaboration.models.ChangeRequest.Kind",
        "ChangeRequestStatusEnum": "collaboration.models.ChangeRequest.Status",
        "NotificationKindEnum": "collaboration.models.Notification.Kind",
        "SalesPlanStatusEnum": "collaboration.models.SalesPlan.Status",
        "AccountStatusEnum": "accounts.models.Account.Status",
        "AccountOverrideKindEnum": "accounts.models.AccountOverride.Kind",
        "JobKindEnum": "core.models.Job.Kind",
        "JobStatusEnum": "core.models.Job.Status",
        "WebhookDeliveryStatusEnum": "core.models.WebhookDelivery.Status",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LEAFLET_CONFIG = {
    "DEFAULT_CENTER": (39.5, -98.35),
    "DEFAULT_ZOOM": 4,
    "TILES": [("OpenStreetMap", env("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png"), {
        "attribution": "&copy; OpenStreetMap contributors", "maxZoom": 19})],
}
MAP_TILE_URL = env("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")

# Largest upload accepted by the importers (bytes).
IMPORT_MAX_BYTES = int(env("IMPORT_MAX_BYTES", str(200 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}

# Seconds before the first webhook retry; doubled on each further attempt.
WEBHOOK_BACKOFF_SECONDS = float(env("WEBHOOK_BACKOFF_SECONDS", "2"))

# Sign-in attempts allowed per user name and address within the window before a pause.
LOGIN_FAILURE_LIMIT = int(env("LOGIN_FAILURE_LIMIT", "5"))
LOGIN_FAILURE_WINDOW_SECONDS = int(env("LOGIN_FAILURE_WINDOW_SECONDS", "900"))

# A running job with no progress report for this long is taken to have lost its worker.
JOB_STALE_SECONDS = int(env("JOB_STALE_SECONDS", "900"))
