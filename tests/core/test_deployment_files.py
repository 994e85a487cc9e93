"""docker-compose.yml and .ci/run describe the same stack as `make demo` and `make test`."""

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_describes_the_stack_with_health_checks():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgis", "redis", "web", "worker", "beat"} <= set(services)
    for name in ("postgis", "redis", "web", "worker"):
        assert "healthcheck" in services[name], name
    assert "pgdata" in compose["volumes"]
    assert "gunicorn" in " ".join(services["web"]["command"])
    assert services["worker"]["environment"]["DATABASE_URL"].startswith("postgis://")


def test_compose_file_validates_with_docker_compose():
    assert shutil.which("docker-compose"), "make test installs Debian's docker-compose; run it through make test"
    result = subprocess.run(["docker-compose", "config", "-q"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_ci_runs_exactly_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text()
    assert "exec make test" in script
    assert "make test" in (ROOT / "README.md").read_text()
