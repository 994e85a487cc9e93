"""`manage.py design_territories`: the optimiser on any GeoJSON file, no database content needed."""

from django.core.management.base import BaseCommand, CommandError

from territories.optimizer.cli import add_arguments, run_from_options, summary_line
from territories.optimizer.errors import OptimizerInputError


class Command(BaseCommand):
    help = (
        "Partition the units of a GeoJSON FeatureCollection (polygons or points, EPSG:4326) into k balanced, "
        "contiguous, compact territories, or realign a current alignment (--current FIELD). Writes every feature "
        "with a 'territory' property to --out and the report to --report."
    )

    def add_arguments(self, parser):
        add_arguments(parser)

    def handle(self, *args, **options):
        def progress(pct, message):
            if options.get("verbosity", 1) >= 2:
                self.stderr.write(f"{pct:5.1f}% {message}")

        try:
            report = run_from_options(options, progress=progress)
        except OptimizerInputError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(summary_line(report))
