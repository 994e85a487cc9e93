"""Compare two scenarios: accounts and revenue that move, per territory (matched by code) and per rep."""

from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from territories.models import Scenario

# One row per account assigned in either scenario: its territory code in A and in B, and its revenue.
# A territory's owner is its current "owner" rep assignment; a planning scenario's territory without one
# keeps the owner of the same code in the other scenario (coverage is assumed unchanged until reassigned).
_PAIRS_SQL = """
WITH side_a AS (
    SELECT DISTINCT ON (aa.account_id) aa.account_id, t.id AS territory_id, t.code
    FROM accounts_accountassignment aa JOIN territories_territory t ON t.id = aa.territory_id
    WHERE aa.scenario_id = %(a)s AND aa.valid_to IS NULL
    ORDER BY aa.account_id, t.depth DESC, t.code
), side_b AS (
    SELECT DISTINCT ON (aa.account_id) aa.account_id, t.id AS territory_id, t.code
    FROM accounts_accountassignment aa JOIN territories_territory t ON t.id = aa.territory_id
    WHERE aa.scenario_id = %(b)s AND aa.valid_to IS NULL
    ORDER BY aa.account_id, t.depth DESC, t.code
), owners AS (
    SELECT DISTINCT ON (t.id) t.id AS territory_id, t.scenario_id, t.code, ra.rep_id
    FROM territories_territory t
    JOIN reps_repassignment ra ON ra.territory_id = t.id AND ra.role = 'owner' AND ra.rep_id IS NOT NULL
        AND ra.valid_from <= %(today)s AND (ra.valid_to IS NULL OR ra.valid_to > %(today)s)
    WHERE t.scenario_id IN (%(a)s, %(b)s)
    ORDER BY t.id, ra.valid_from DESC, ra.id DESC
)
SELECT coalesce(side_a.account_id, side_b.account_id) AS account_id, side_a.code AS code_a, side_b.code AS code_b,
       coalesce(oa.rep_id, ob_same.rep_id) AS rep_a, coalesce(ob.rep_id, oa_same.rep_id) AS rep_b,
       acc.annual_revenue AS revenue
FROM side_a FULL JOIN side_b ON side_b.account_id = side_a.account_id
JOIN accounts_account acc ON acc.id = coalesce(side_a.account_id, side_b.account_id)
LEFT JOIN owners oa ON oa.territory_id = side_a.territory_id
LEFT JOIN owners ob_same ON ob_same.scenario_id = %(b)s AND ob_same.code = side_a.code
LEFT JOIN owners ob ON ob.territory_id = side_b.territory_id
LEFT JOIN owners oa_same ON oa_same.scenario_id = %(a)s AND oa_same.code = side_b.code
"""

_BY_KEY_SQL = """
WITH sides AS (
    SELECT {key_a} AS key, 'a' AS side, {key_b} AS other, revenue FROM _compare_pairs WHERE {key_a} IS NOT NULL
    UNION ALL
    SELECT {key_b}, 'b', {key_a}, revenue FROM _compare_pairs WHERE {key_b} IS NOT NULL
)
SELECT key,
       count(*) FILTER (WHERE side = 'a'), coalesce(sum(revenue) FILTER (WHERE side = 'a'), 0),
       count(*) FILTER (WHERE side = 'b'), coalesce(sum(revenue) FILTER (WHERE side = 'b'), 0),
       count(*) FILTER (WHERE side = 'b' AND other IS DISTINCT FROM key),
       coalesce(sum(revenue) FILTER (WHERE side = 'b' AND other IS DISTINCT FROM key), 0),
       count(*) FILTER (WHERE side = 'a' AND other IS DISTINCT FROM key),
       coalesce(sum(revenue) FILTER (WHERE side = 'a' AND other IS DISTINCT FROM key), 0)
FROM sides GROUP BY key ORDER BY key
"""

_TOTALS_SQL = """
SELECT count(*) FILTER (WHERE code_a IS NOT NULL AND code_b IS NOT NULL AND code_a <> code_b),
       coalesce(sum(revenue) FILTER (WHERE code_a IS NOT NULL AND code_b IS NOT NULL AND code_a <> code_b), 0),
       count(*) FILTER (WHERE rep_a IS DISTINCT FROM rep_b),
       coalesce(sum(revenue) FILTER (WHERE rep_a IS DISTINCT FROM rep_b), 0),
       count(*) FILTER (WHERE code_a IS NULL), count(*) FILTER (WHERE code_b IS NULL),
       count(*) FILTER (WHERE code_a IS NOT NULL), count(*) FILTER (WHERE code_b IS NOT NULL)
FROM _compare_pairs
"""

_FIELDS = ["accounts_a", "revenue_a", "accounts_b", "revenue_b", "accounts_in", "revenue_in", "accounts_out",
           "revenue_out"]


def _rows(cursor, key_a: str, key_b: str) -> list[dict]:
    cursor.execute(_BY_KEY_SQL.format(key_a=key_a, key_b=key_b))
    return [dict(zip(["key", *_FIELDS], row, strict=True)) for row in cursor.fetchall()]


def scenario_compare(*, scenario_a: Scenario, scenario_b: Scenario) -> dict:
    """Who gains and loses what going from A to B. "in"/"out" count accounts arriving from / leaving to anywhere
    else (another territory or unassigned); "moved" counts accounts assigned in both but to different codes."""
    params = {"a": scenario_a.pk, "b": scenario_b.pk, "today": timezone.localdate()}
    # The pairs (two DISTINCT ON sorts and a full join over both scenarios' assignments) are computed once into a
    # temporary table; the per-territory, per-rep and total figures are three scans of it.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '256MB'; SET LOCAL jit = off")
        cursor.execute("DROP TABLE IF EXISTS _compare_pairs")
        cursor.execute(f"CREATE TEMP TABLE _compare_pairs ON COMMIT DROP AS {_PAIRS_SQL}", params)
        territory_rows = _rows(cursor, "code_a", "code_b")
        rep_rows = _rows(cursor, "rep_a", "rep_b")
        cursor.execute(_TOTALS_SQL)
        totals = cursor.fetchone()
        cursor.execute("DROP TABLE _compare_pairs")
        cursor.execute(
            "SELECT code, scenario_id, name FROM territories_territory WHERE scenario_id IN (%s, %s)",
            [scenario_a.pk, scenario_b.pk],
        )
        names = {}
        for code, scenario_id, name in cursor.fetchall():
            if code not in names or scenario_id == scenario_b.pk:
                names[code] = name
        cursor.execute("SELECT id, name FROM reps_rep WHERE id = ANY(%s)",
                       [[row["key"] for row in rep_rows if row["key"] is not None]])
        rep_names = dict(cursor.fetchall())
    territories = []
    for row in territory_rows:
        code = row.pop("key")
        territories.append({"code": code, "name": names.get(code, ""), **row,
                            "accounts_change": row["accounts_b"] - row["accounts_a"],
                            "revenue_change": row["revenue_b"] - row["revenue_a"]})
    reps = []
    for row in rep_rows:
        rep_id = row.pop("key")
        reps.append({"rep_id": rep_id, "rep": rep_names.get(rep_id, "Vacant") if rep_id else "Vacant", **row,
                     "accounts_change": row["accounts_b"] - row["accounts_a"],
                     "revenue_change": row["revenue_b"] - row["revenue_a"]})
    moved, revenue_moved, rep_changed, revenue_rep_changed, only_in_b, only_in_a, assigned_a, assigned_b = totals
    return {
        "scenario_a": {"id": scenario_a.pk, "name": scenario_a.name, "status": scenario_a.status},
        "scenario_b": {"id": scenario_b.pk, "name": scenario_b.name, "status": scenario_b.status},
        "totals": {
            "accounts_moved": moved, "revenue_moved": Decimal(revenue_moved),
            "accounts_changing_rep": rep_changed, "revenue_changing_rep": Decimal(revenue_rep_changed),
            "assigned_a": assigned_a, "assigned_b": assigned_b,
            "assigned_only_in_a": only_in_a, "assigned_only_in_b": only_in_b,
        },
        "territories": territories,
        "reps": reps,
    }
