"""The impact of a change request, computed in PostGIS before anyone decides.

A change is reduced to the same three inputs whatever its kind: the current assignment rows it closes, the
(account, territory) rows it opens, and optionally a territory that gets a new owner. One set-based statement
then sums accounts, revenue, potential and workload per territory and per rep before and after, and the balance
of the scenario's leaf territories on each measure (mean, largest deviation from the mean in %, coefficient of
variation).
"""

import datetime as dt
import json
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

MEASURES = {  # name in the impact -> SQL over the accounts table aliased `a`
    "accounts": "count(*)",
    "revenue": "COALESCE(sum(a.annual_revenue), 0)",
    "potential": "COALESCE(sum(a.potential), 0)",
    "workload": "COALESCE(sum(a.workload_hours), 0)::numeric",
}


@dataclass
class AlignmentDelta:
    """A change expressed as rows: assignments closed, (account, territory) pairs opened, an owner replaced."""

    closed_assignment_ids: list[int] = field(default_factory=list)
    opened: list[tuple[int, int]] = field(default_factory=list)
    owner_territory_id: int | None = None
    owner_rep_id: int | None = None


def _columns(prefix: str) -> str:
    return ", ".join(f"{sql} AS {name}" for name, sql in MEASURES.items()).replace(" AS ", f" AS {prefix}_")


def _sum(prefix: str, alias: str) -> str:
    return ", ".join(f"COALESCE(sum({alias}.{prefix}_{name}), 0) AS {prefix}_{name}" for name in MEASURES)


def _balance_json(prefix: str) -> str:
    parts = []
    for name in MEASURES:
        column = f"{prefix}_{name}"
        parts.append(
            f"'{name}', json_build_object("
            f"'mean', round(avg({column})::numeric, 2), "
            f"'max_deviation_pct', round((max(abs({column} - mean_{column})) / NULLIF(avg({column}), 0) * 100)"
            f"::numeric, 1), "
            f"'cv', round((stddev_pop({column}) / NULLIF(avg({column}), 0))::numeric, 3))"
        )
    return f"json_build_object({', '.join(parts)})"


_MEANS = ", ".join(f"avg({p}_{n}) OVER () AS mean_{p}_{n}" for p in ("before", "after") for n in MEASURES)
_CHANGED = " OR ".join(f"before_{n} <> after_{n}" for n in MEASURES)
_REP_CHANGED = " OR ".join(f"rb.before_{n} <> ra.after_{n}" for n in MEASURES)

IMPACT_SQL = f"""
WITH closed AS (
    SELECT unnest(%(closed)s::bigint[]) AS assignment_id
), opened AS (
    SELECT DISTINCT * FROM unnest(%(opened_accounts)s::bigint[], %(opened_territories)s::bigint[])
        AS o(account_id, territory_id)
), before_rows AS (
    SELECT aa.id, aa.account_id, aa.territory_id FROM accounts_accountassignment aa
    WHERE aa.scenario_id = %(scenario)s AND aa.valid_to IS NULL
), after_rows AS (
    SELECT account_id, territory_id FROM before_rows WHERE id NOT IN (SELECT assignment_id FROM closed)
    UNION
    SELECT account_id, territory_id FROM opened
), totals_before AS (
    SELECT r.territory_id, {_columns("before")}
    FROM before_rows r JOIN accounts_account a ON a.id = r.account_id GROUP BY r.territory_id
), totals_after AS (
    SELECT r.territory_id, {_columns("after")}
    FROM after_rows r JOIN accounts_account a ON a.id = r.account_id GROUP BY r.territory_id
), owner_before AS (
    SELECT DISTINCT ON (ra.territory_id) ra.territory_id, ra.rep_id
    FROM reps_repassignment ra JOIN territories_territory t ON t.id = ra.territory_id
    WHERE t.scenario_id = %(scenario)s AND ra.role = 'owner' AND ra.valid_from <= %(today)s
      AND (ra.valid_to IS NULL OR ra.valid_to > %(today)s)
    ORDER BY ra.territory_id, ra.valid_from DESC, ra.id DESC
), owner_after AS (
    SELECT territory_id, rep_id FROM owner_before WHERE territory_id IS DISTINCT FROM %(owner_territory)s::bigint
    UNION ALL
    SELECT %(owner_territory)s::bigint, %(owner_rep)s::bigint WHERE %(owner_territory)s::bigint IS NOT NULL
), territory_rows AS (
    SELECT t.id, t.code, t.name,
           NOT EXISTS (SELECT 1 FROM territories_territory c WHERE c.parent_id = t.id) AS is_leaf,
           ob.rep_id AS owner_before_id, oa.rep_id AS owner_after_id,
           {", ".join(f"COALESCE(b.before_{n}, 0) AS before_{n}" for n in MEASURES)},
           {", ".join(f"COALESCE(af.after_{n}, 0) AS after_{n}" for n in MEASURES)}
    FROM territories_territory t
    LEFT JOIN totals_before b ON b.territory_id = t.id
    LEFT JOIN totals_after af ON af.territory_id = t.id
    LEFT JOIN owner_before ob ON ob.territory_id = t.id
    LEFT JOIN owner_after oa ON oa.territory_id = t.id
    WHERE t.scenario_id = %(scenario)s
), leaf_stats AS (
    SELECT *, {_MEANS} FROM territory_rows WHERE is_leaf
), rep_before AS (
    SELECT tr.owner_before_id AS rep_id, {_sum("before", "tr")}
    FROM territory_rows tr WHERE tr.owner_before_id IS NOT NULL GROUP BY tr.owner_before_id
), rep_after AS (
    SELECT tr.owner_after_id AS rep_id, {_sum("after", "tr")}
    FROM territory_rows tr WHERE tr.owner_after_id IS NOT NULL GROUP BY tr.owner_after_id
), rep_rows AS (
    SELECT r.id, r.name, r.capacity_hours,
           {", ".join(f"COALESCE(rb.before_{n}, 0) AS before_{n}" for n in MEASURES)},
           {", ".join(f"COALESCE(ra.after_{n}, 0) AS after_{n}" for n in MEASURES)}
    FROM reps_rep r
    LEFT JOIN rep_before rb ON rb.rep_id = r.id
    LEFT JOIN rep_after ra ON ra.rep_id = r.id
    WHERE (rb.rep_id IS NOT NULL OR ra.rep_id IS NOT NULL)
      AND (rb.rep_id IS NULL OR ra.rep_id IS NULL OR {_REP_CHANGED})
), moving AS (
    SELECT DISTINCT a.id, a.name, a.annual_revenue, a.potential, a.workload_hours
    FROM accounts_account a
    WHERE a.id IN (SELECT account_id FROM before_rows WHERE id IN (SELECT assignment_id FROM closed))
       OR a.id IN (SELECT account_id FROM opened)
)
SELECT json_build_object(
    'moving', (SELECT json_build_object('accounts', count(*),
                                        'revenue', COALESCE(sum(annual_revenue), 0),
                                        'potential', COALESCE(sum(potential), 0),
                                        'workload', COALESCE(sum(workload_hours), 0)) FROM moving),
    'territories', COALESCE((
        SELECT json_agg(json_build_object(
            'id', tr.id, 'code', tr.code, 'name', tr.name,
            'owner_before', tr.owner_before_id, 'owner_after', tr.owner_after_id,
            'before', json_build_object({", ".join(f"'{n}', tr.before_{n}" for n in MEASURES)}),
            'after', json_build_object({", ".join(f"'{n}', tr.after_{n}" for n in MEASURES)})
        ) ORDER BY tr.code)
        FROM territory_rows tr
        WHERE {_CHANGED} OR tr.owner_before_id IS DISTINCT FROM tr.owner_after_id
           OR tr.id = ANY(%(touched)s::bigint[])
    ), '[]'::json),
    'reps', COALESCE((
        SELECT json_agg(json_build_object(
            'id', rr.id, 'name', rr.name, 'capacity_hours', rr.capacity_hours,
            'before', json_build_object({", ".join(f"'{n}', rr.before_{n}" for n in MEASURES)}),
            'after', json_build_object({", ".join(f"'{n}', rr.after_{n}" for n in MEASURES)})
        ) ORDER BY rr.name)
        FROM rep_rows rr
    ), '[]'::json),
    'balance', json_build_object(
        'territory_count', (SELECT count(*) FROM leaf_stats),
        'before', (SELECT {_balance_json("before")} FROM leaf_stats),
        'after', (SELECT {_balance_json("after")} FROM leaf_stats)
    )
)::text
"""


def alignment_impact(
    *, scenario_id: int, delta: AlignmentDelta, touched_territory_ids: list[int] | None = None,
    at: dt.date | None = None,
) -> dict:
    """What a change moves, per territory and rep, and the leaf balance before and after, in one statement."""
    params = {
        "scenario": scenario_id,
        "closed": list(delta.closed_assignment_ids),
        "opened_accounts": [account_id for account_id, _ in delta.opened],
        "opened_territories": [territory_id for _, territory_id in delta.opened],
        "owner_territory": delta.owner_territory_id,
        "owner_rep": delta.owner_rep_id,
        "today": at or timezone.localdate(),
        "touched": list(touched_territory_ids or []),
    }
    with connection.cursor() as cursor:
        cursor.execute(IMPACT_SQL, params)
        return json.loads(cursor.fetchone()[0])
