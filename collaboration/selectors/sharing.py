"""What a shared read-only view of a scenario shows: its territories on a map and their totals in a table."""

import json

from django.db import connection

_SHARE_SQL = """
WITH owner AS (
    SELECT DISTINCT ON (ra.territory_id) ra.territory_id, r.name AS rep_name
    FROM reps_repassignment ra JOIN territories_territory t ON t.id = ra.territory_id
    LEFT JOIN reps_rep r ON r.id = ra.rep_id
    WHERE t.scenario_id = %(scenario)s AND ra.role = 'owner' AND ra.valid_from <= current_date
      AND (ra.valid_to IS NULL OR ra.valid_to > current_date)
    ORDER BY ra.territory_id, ra.valid_from DESC, ra.id DESC
), totals AS (
    SELECT aa.territory_id, count(*) AS accounts, sum(a.annual_revenue) AS revenue, sum(a.potential) AS potential,
           sum(a.workload_hours) AS workload
    FROM accounts_accountassignment aa JOIN accounts_account a ON a.id = aa.account_id
    WHERE aa.scenario_id = %(scenario)s AND aa.valid_to IS NULL GROUP BY aa.territory_id
)
SELECT t.id, t.code, t.name, t.level_name, t.color, o.rep_name,
       COALESCE(x.accounts, 0), COALESCE(x.revenue, 0), COALESCE(x.potential, 0), COALESCE(x.workload, 0),
       ST_AsGeoJSON(ST_SimplifyPreserveTopology(t.boundary, 0.001), 5)
FROM territories_territory t
LEFT JOIN owner o ON o.territory_id = t.id
LEFT JOIN totals x ON x.territory_id = t.id
WHERE t.scenario_id = %(scenario)s AND NOT EXISTS (SELECT 1 FROM territories_territory c WHERE c.parent_id = t.id)
ORDER BY t.code
"""


def scenario_share_view(*, scenario) -> dict:
    """Leaf territories with owner and totals, and a GeoJSON FeatureCollection of their simplified boundaries."""
    with connection.cursor() as cursor:
        cursor.execute(_SHARE_SQL, {"scenario": scenario.pk})
        rows = cursor.fetchall()
    territories, features = [], []
    for pk, code, name, level, color, rep, accounts, revenue, potential, workload, geometry in rows:
        row = {"id": pk, "code": code, "name": name, "level": level, "owner": rep or "", "accounts": accounts,
               "revenue": float(revenue), "potential": float(potential), "workload": float(workload)}
        territories.append(row)
        if geometry:
            features.append({"type": "Feature", "geometry": json.loads(geometry),
                             "properties": {**row, "color": color or ""}})
    totals = {key: sum(row[key] for row in territories) for key in ("accounts", "revenue", "potential", "workload")}
    return {"territories": territories, "totals": totals,
            "geojson": {"type": "FeatureCollection", "features": features}}
