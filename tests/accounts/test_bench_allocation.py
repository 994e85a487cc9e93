"""bench/allocation.py runs end to end at a small size and ends with its JSON line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_allocation_benchmark_small_run():
    from django.db import connection

    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings.test")
    database = f"{connection.settings_dict['NAME']}_bench_small"
    completed = subprocess.run(
        [
            sys.executable,
            "bench/allocation.py",
            "--accounts",
            "3000",
            "--territories",
            "60",
            "--rules",
            "20",
            "--repeats",
            "1",
            "--database",
            database,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    for key in ("allocation_s", "baseline_s", "ratio", "paired_ratio", "peak_rss_mb", "rule_run_s", "end_to_end_s"):
        assert result[key] > 0, key
    assert len(result["load_average_before"]) == len(result["load_average_after"]) == 3
    assert result["accounts"] == 3000
    assert result["assigned"] == 3000  # every generated point lies inside a polygon
    assert result["rule_assigned"] > 0
