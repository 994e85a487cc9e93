"""`manage.py seed_demo`: load the deterministic demo data set (accounts, territories, reps, activity)."""

import time

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account
from core.demo.constants import DEMO_PASSWORD


class Command(BaseCommand):
    help = (
        "Load demo data: accounts around real US cities, an active scenario of regions > districts > territories "
        "built from US counties, reps, logins (admin, manager, rep), a year of activities and opportunities."
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=20_000, help="Number of accounts (default 20000).")
        parser.add_argument("--reps", type=int, default=40, help="Number of reps (default 40).")
        parser.add_argument("--seed", type=int, default=42, help="Random seed; the same seed gives the same data.")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when accounts already exist.")
        parser.add_argument("--force", action="store_true", help="Delete the existing demo data first.")

    def handle(self, *args, accounts, reps, seed, if_empty, force, **options):
        if accounts < 1 or reps < 1:
            raise CommandError("--accounts and --reps must be at least 1.")
        # The bootstrap runs this on every start: answer --if-empty before importing the heavy generators.
        if if_empty and not force and Account.objects.exists():
            self.stdout.write("seed_demo: accounts already exist; skipping (use --force to reload).")
            return
        from core.demo.seed import demo_data_exists, demo_seed, demo_wipe

        if demo_data_exists() and not force:
            raise CommandError("Accounts already exist: use --force to replace the demo data, or --if-empty to skip.")
        started = time.perf_counter()
        if force:
            demo_wipe()
            self.stdout.write(f"wiped existing demo data ({time.perf_counter() - started:.1f}s)")
        result = demo_seed(accounts=accounts, reps=reps, seed=seed, write=self.stdout.write)
        width = max(len(name) for name in result.counts)
        self.stdout.write("")
        self.stdout.write(f"{'table'.ljust(width)}  {'rows':>10}")
        for name, count in result.counts.items():
            self.stdout.write(f"{name.ljust(width)}  {count:>10}")
        self.stdout.write(f"{'seconds'.ljust(width)}  {time.perf_counter() - started:>10.1f}")
        self.stdout.write(self.style.SUCCESS(
            f"Demo data loaded (seed {seed}). Logins: admin, manager, rep; password {DEMO_PASSWORD!r}."
        ))
