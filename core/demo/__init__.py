"""Generators of the deterministic demo data set behind `manage.py seed_demo` (see `core.demo.seed`)."""
