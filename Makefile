# Two commands do all of the set-up: `make demo` serves the app with demo data, `make test` runs every check.
VENV ?= .venv
PY := $(VENV)/bin/python
export DJANGO_SETTINGS_MODULE ?= config.settings.local

.PHONY: demo test setup lint bench-optimizer bench-map bench-allocation bench-kpi bench-routes bench loadtest

setup:
	bash scripts/bootstrap.sh setup

demo:
	bash scripts/bootstrap.sh demo

test:
	WITH_TEST_TOOLS=1 bash scripts/bootstrap.sh setup
	$(VENV)/bin/ruff check .
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) manage.py check --fail-level WARNING
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) -m pytest $(PYTEST_ARGS)

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Benchmarks print a table, then one line of JSON with the same figures. They run on the set-up database.
bench-optimizer: setup
	test -x .venv-bench/bin/python || python3.11 -m venv .venv-bench
	.venv-bench/bin/pip install -q -r requirements.txt -r requirements-bench.txt 2>&1 | grep -v "is ignored" || true
	.venv-bench/bin/python bench/optimizer.py $(BENCH_ARGS)

bench-allocation: setup
	$(PY) bench/allocation.py $(BENCH_ARGS)

bench-kpi: setup
	$(PY) bench/kpi.py $(BENCH_ARGS)

bench-routes: setup
	$(PY) bench/routes.py $(BENCH_ARGS)

bench-map: setup
	$(PY) bench/map.py --accounts $(or $(ACCOUNTS),1000000) $(BENCH_ARGS)

# The scale suite: a million accounts in territory_bench_suite (built once; BENCH_ARGS=--reuse measures it again).
bench: setup
	$(PY) bench/suite.py $(BENCH_ARGS)

# gunicorn serving that data set, driven by 50 clients from a second process (LOADTEST_ARGS=--seconds 60 ...).
loadtest: setup
	$(PY) bench/loadtest.py $(LOADTEST_ARGS)
