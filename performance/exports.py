"""CSV export of KPI tables: one row per snapshot, one column per metric, flags as text."""

import csv
from collections.abc import Iterator

from django.db.models import QuerySet

from performance.models import KpiSnapshot
from performance.services.kpi_sql import QUOTA_METRICS, TOTAL_NAMES

DERIVED_NAMES = ["attainment", "pipeline_coverage", "win_rate", "visit_coverage", "workload_index",
                 "potential_index", "visit_attainment", "pipeline_attainment", "new_account_attainment",
                 "capacity_hours", "rep_count"]
BALANCE_NAMES = ["territory_count", "cv_potential", "max_deviation_potential", "cv_workload_hours",
                 "max_deviation_workload_hours", "cv_account_count", "max_deviation_account_count",
                 "gini_potential_reps"]
METRIC_COLUMNS = DERIVED_NAMES + TOTAL_NAMES + [f"quota_{m}" for m in QUOTA_METRICS] + BALANCE_NAMES
HEADER = ["scope", "territory_code", "territory_name", "rep", "level", "period_start", "period_end",
          *METRIC_COLUMNS, "flags"]


class _Echo:
    def write(self, value):
        return value


def kpi_snapshot_csv_rows(*, snapshots: QuerySet[KpiSnapshot]) -> Iterator[str]:
    """Stream the snapshots as CSV lines (header first), reading the rows in chunks."""
    writer = csv.writer(_Echo())
    yield writer.writerow(HEADER)
    for snapshot in snapshots.select_related("territory", "rep").order_by("period_start", "scope", "pk").iterator(
            chunk_size=2000):
        metrics = snapshot.metrics or {}
        yield writer.writerow([
            snapshot.scope, snapshot.territory.code if snapshot.territory else "",
            snapshot.territory.name if snapshot.territory else "", snapshot.rep.name if snapshot.rep else "",
            "" if snapshot.level is None else snapshot.level, snapshot.period_start, snapshot.period_end,
            *["" if metrics.get(name) is None else metrics[name] for name in METRIC_COLUMNS],
            "; ".join(flag.get("reason", "") for flag in snapshot.flags or []),
        ])
