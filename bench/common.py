"""Helpers shared by bench/suite.py and bench/loadtest.py: the benchmark database, timing and memory figures."""

from __future__ import annotations

import contextlib
import math
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgis://territory:territory@127.0.0.1:5432/territory"
# bench/allocation.py keeps its own data in <name>_bench, so the suite's database has a name of its own.
SUITE_DATABASE = "territory_bench_suite"


def database_name_for_scale(scale: float) -> str:
    """One database per scale, so a quick run never throws away the full data set."""
    if scale >= 1:
        return SUITE_DATABASE
    return f"{SUITE_DATABASE}_s{str(scale).replace('.', '_')}"


def database_url(name: str, base_url: str | None = None) -> str:
    parts = urlsplit(base_url or os.environ.get("DATABASE_URL", DEFAULT_URL))
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_ensure(url: str) -> bool:
    """Create the database when missing; True when it was created."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        connection.execute(f'CREATE DATABASE "{name}"')
    return True


def django_setup(url: str, settings_module: str = "config.settings.local") -> None:
    """Point Django at the benchmark database (DEBUG off, so no query log grows) and set it up."""
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    os.environ.setdefault("DJANGO_DEBUG", "false")
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False


def peak_rss_mb() -> float:
    """This process's peak resident memory."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def process_peak_rss_mb(pid: int) -> float | None:
    """Another process's peak resident memory (VmHWM), while it runs."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a running process has used so far; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def timed(function, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def queue_purge(queue: str) -> None:
    """Empty a private Celery queue (and its long-job twin) that a benchmark's server or steps sent jobs to."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    try:
        from config.celery_app import app

        with app.connection_for_write() as connection:
            for name in (queue, f"{queue}-optimizer"):
                with contextlib.suppress(Exception):  # a queue nobody declared
                    connection.default_channel.queue_purge(name)
    except Exception as exc:  # noqa: BLE001 (Redis away: nothing was queued either)
        print(f"could not purge {queue}: {exc}", file=sys.stderr)


def secondary_structures(cursor, tables: list[str]) -> tuple[list[str], list[str]]:
    """Statements to drop, and to recreate, the big tables' foreign keys, unique/check constraints and indexes.

    Loading millions of rows into indexed tables with foreign-key triggers is several times slower than loading
    them bare and building each index (and validating each constraint) once afterwards.
    """
    cursor.execute(
        """
        SELECT format('ALTER TABLE %%I DROP CONSTRAINT %%I', c.conrelid::regclass::text, c.conname),
               format('ALTER TABLE %%I ADD CONSTRAINT %%I %%s', c.conrelid::regclass::text, c.conname,
                      pg_get_constraintdef(c.oid))
        FROM pg_constraint c
        WHERE c.conrelid::regclass::text = ANY(%(tables)s) AND c.contype IN ('f', 'u', 'c')
        ORDER BY c.contype DESC
        """,
        {"tables": tables},
    )
    constraints = cursor.fetchall()
    cursor.execute(
        """
        SELECT format('DROP INDEX %%I', i.indexrelid::regclass::text), pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid::regclass::text = ANY(%(tables)s) AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        """,
        {"tables": tables},
    )
    indexes = cursor.fetchall()
    drops = [drop for drop, _ in constraints] + [drop for drop, _ in indexes]
    creates = [create for _, create in indexes] + [create for _, create in reversed(constraints)]
    return drops, creates


# Triggers on these keep performance_accountactivitysummary (the rep's book) and look each touched account up in the
# source table; with that table's indexes dropped for a bulk load, that is a scan per account (hours for 500,000
# opportunities). Loads run with them off and fill the summary once, set-based, with the migration's own backfill.
SUMMARY_SOURCE_TABLES = ["performance_activity", "performance_opportunity"]


@contextlib.contextmanager
def summary_triggers_off(cursor):
    for table in SUMMARY_SOURCE_TABLES:
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    try:
        yield
    finally:
        for table in SUMMARY_SOURCE_TABLES:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def summary_backfill(cursor) -> None:
    from importlib import import_module

    cursor.execute("TRUNCATE performance_accountactivitysummary")
    cursor.execute(import_module("performance.migrations.0004_account_activity_summary").BACKFILL_SQL)
