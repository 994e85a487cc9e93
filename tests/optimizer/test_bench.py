"""A quick benchmark run ends with one line of JSON holding the figures."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmark_prints_json_last():
    result = subprocess.run(
        [sys.executable, "bench/optimizer.py", "--quick", "--ks", "4", "--time-limit", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    last = result.stdout.strip().splitlines()[-1]
    summary = json.loads(last)
    ours = [row for row in summary["results"] if row["method"] == "optimizer"]
    assert {row["instance"] for row in ours} == {"counties", "hex"}
    for row in ours:
        assert row["contiguous"] is True
        assert row["runtime_s"] > 0  # speed belongs in the benchmark itself, not in a test
        assert {"max_dev_pct", "pp_mean", "runtime_s"} <= set(row)
        assert 0 < row["pp_2km"] <= 1  # the generalised outlines' score, for information
    assert any(row["method"] == "realign" for row in summary["results"])
    table = result.stdout.strip().splitlines()[:-1]
    assert any(line.startswith("counties  | optimizer") for line in table)  # the table comes first
    assert "not installed" in result.stdout or "kmeans" in result.stdout  # baselines degrade gracefully
