# Two commands do all of the set-up: `make demo` serves the app with demo data, `make test` runs every check.
VENV ?= .venv
PY := $(VENV)/bin/python
export DJANGO_SETTINGS_MODULE ?= config.settings.local

.PHONY: demo test setup lint bench-optimizer bench-map bench-allocation

setup:
	bash scripts/bootstrap.sh setup

demo:
	bash scripts/bootstrap.sh demo

test:
	WITH_BROWSER=1 bash scripts/bootstrap.sh setup
	$(VENV)/bin/ruff check .
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) manage.py check --fail-level WARNING
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) -m pytest $(PYTEST_ARGS)

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
