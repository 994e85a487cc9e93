"""Check the services the app needs and say, in one line each, what is wrong and what to do."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")


def fail(message: str) -> None:
    print(f"ERROR: {message}", file=sys.stderr)
    sys.exit(1)


def main() -> None:
    try:
        import django

        django.setup()
    except Exception as exc:  # GDAL/GEOS are loaded while Django starts
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "GDAL" in text or "GEOS" in text:
            fail(f"{text}; install the system libraries: apt-get install -y libgdal32 libgeos-c1v5 libproj25")
        fail(f"Django could not start: {text}")

    from django.conf import settings

    from core.health import database_status, redis_status

    database = database_status()
    if not database["ok"]:
        settings_dict = settings.DATABASES["default"]
        host, port = settings_dict.get("HOST") or "localhost", settings_dict.get("PORT") or 5432
        where = f"{host}:{port}/{settings_dict.get('NAME')}"
        fail(f"cannot use the PostGIS database at {where} ({database['error']}); check DATABASE_URL")
    redis = redis_status()
    if not redis["ok"]:
        fail(f"cannot reach Redis at {settings.REDIS_URL} ({redis['error']}); start Redis or fix REDIS_URL")


if __name__ == "__main__":
    main()
