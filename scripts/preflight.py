"""Check the services the app needs and say, in one line each, what is wrong and what to do."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")


def fail(message: str) -> None:
    print(f"ERROR: {message}", file=sys.stderr)
    sys.exit(1)


def first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def main() -> None:
    try:
        from django.conf import settings

        settings.DATABASES  # noqa: B018 (reading settings parses DATABASE_URL)
    except Exception as exc:
        fail(f"the configuration is invalid ({first_line(exc)}); check DATABASE_URL and the other variables")
    for library, module in (("GDAL", "django.contrib.gis.gdal.libgdal"), ("GEOS", "django.contrib.gis.geos.libgeos")):
        try:
            loaded = __import__(module, fromlist=["lgdal" if library == "GDAL" else "lgeos"])
            getattr(loaded, "lgdal" if library == "GDAL" else "lgeos")  # GEOS loads lazily
        except Exception as exc:
            fail(f"the {library} library cannot be loaded ({first_line(exc)}); install the system libraries: "
                 "apt-get install -y libgdal32 libgeos-c1v5 libproj25")
    try:
        import django

        django.setup()
    except Exception as exc:
        fail(f"Django could not start: {first_line(exc)}")

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
