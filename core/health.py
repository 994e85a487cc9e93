"""Reachability of the services the app depends on, for /healthz and the set-up checks."""

from django.conf import settings
from django.db import connections


def database_status() -> dict:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT postgis_lib_version()")
            (version,) = cursor.fetchone()
        return {"ok": True, "postgis": version}
    except Exception as exc:
        return {"ok": False, "error": str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}


def redis_status() -> dict:
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        return {"ok": True}
    except Exception as exc:
        return {"ok": False, "error": str(exc)}


def worker_status(timeout: float = 1.0) -> dict:
    from config.celery_app import app

    try:
        replies = app.control.ping(timeout=timeout) or []
    except Exception as exc:
        return {"ok": False, "error": str(exc), "workers": 0}
    return {"ok": bool(replies), "workers": len(replies),
            **({} if replies else {"error": "no Celery worker answered"})}


def health_report() -> dict:
    checks = {"database": database_status(), "redis": redis_status()}
    checks["worker"] = worker_status() if checks["redis"]["ok"] else {"ok": False, "error": "Redis is down"}
    return {"ok": all(check["ok"] for check in checks.values()), "checks": checks}
