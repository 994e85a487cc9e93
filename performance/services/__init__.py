"""Write-side logic for performance: quotas, opportunities (and their CSV import), activities, KPI recomputes."""
