"""bench/suite.py at 1% size (10,000 accounts) builds its data set, measures every step and ends with its JSON."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
READ_KINDS = ("book", "account", "tile", "viewport")


def _bench_env(settings) -> dict:
    """The environment of a benchmark subprocess: this test database's server (the bench makes its own database)."""
    env = dict(os.environ)
    env["DATABASE_URL"] = (f"postgis://{settings['USER']}:{settings['PASSWORD']}@{settings['HOST'] or '127.0.0.1'}:"
                           f"{settings['PORT'] or 5432}/postgres")
    return env


@pytest.mark.django_db
def test_the_suite_at_small_scale_prints_every_figure_with_its_baseline():
    settings = connection.settings_dict
    env = _bench_env(settings)
    database = f"{settings['NAME']}_suite_quick"
    completed = subprocess.run(
        [sys.executable, "bench/suite.py", "--scale", "0.01", "--repeats", "1", "--clients", "2",
         "--load-seconds", "1", "--database", database],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = completed.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    assert "import" in completed.stdout and "targets:" in completed.stdout

    assert figures["cores"] == os.cpu_count()
    assert figures["accounts"] == 10_000 and figures["activities"] == 50_000 and figures["opportunities"] == 5_000
    assert figures["territories"] == 44  # 4 regions, 8 districts, 32 leaves
    for key in ("import_rows_per_s", "import_copy_rows_per_s", "import_orm_rows_per_s", "allocation_s",
                "allocation_baseline_s", "incremental_s", "kpi_s", "kpi_baseline_s", "compare_s",
                "compare_baseline_s", "list_p95_ms", "list_baseline_ms", "map_p95_ms", "map_baseline_ms"):
        assert figures[key] > 0, key
    for step in ("import", "allocation", "incremental", "kpi", "compare", "list", "map"):
        assert figures[f"{step}_peak_rss_mb"] > 0
        assert figures[f"{step}_ratio"] > 0
    assert figures["list_errors"] == 0 and figures["map_errors"] == 0
    assert figures["incremental_changed_accounts"] > 0
    # B is A's leaves shifted half a cell: about half the accounts change territory.
    assert 0.3 * figures["accounts"] < figures["compare_accounts_moved"] < 0.7 * figures["accounts"]


@pytest.mark.django_db
def test_the_load_test_at_small_scale_serves_every_kind_of_request_without_errors():
    settings = connection.settings_dict
    env = _bench_env(settings)
    completed = subprocess.run(
        [sys.executable, "bench/loadtest.py", "--scale", "0.01", "--database", f"{settings['NAME']}_suite_quick",
         "--seconds", "4", "--clients", "10", "--think-ms", "100", "--workers", "2", "--threads", "2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    assert figures["errors"] == 0, figures["statuses"]
    # Every client draws its requests from a seeded mix; in 4 s each does a few dozen (viewport, 1 in 5 of the two
    # managers' requests, may be missing on a busy machine).
    assert {"book", "account", "activity", "tile"} <= set(figures["kinds"]) <= set(READ_KINDS + ("activity",))
    assert all(row["requests"] > 0 and row["p95_ms"] >= row["p50_ms"] > 0 for row in figures["kinds"].values())
    assert figures["gunicorn_cpu_ms_per_request"] > 0 and len(figures["gunicorn_peak_rss_mb"]) == 3
