"""The SQL of a KPI recompute: set-based statements over temporary tables, run inside one transaction.

Stage 1 (the heavy part) sums the accounts assigned directly to each territory: potential, workload,
cadence coverage, visits, won/lost/open opportunities. Stage 2 (small: one row per territory or rep)
adds those totals up the hierarchy and per rep, less what accounts held by several territories (overlays) would
count twice, derives the ratios, balance and flags, and upserts them.
"""

# Additive totals of a set of accounts; every later figure is derived from these.
TOTAL_COLUMNS = [
    ("account_count", "bigint"),
    ("new_accounts", "bigint"),
    ("potential", "numeric"),
    ("workload_hours", "numeric"),
    ("eligible_accounts", "bigint"),
    ("covered_accounts", "bigint"),
    ("visits", "bigint"),
    ("activities", "bigint"),
    ("revenue_won", "numeric"),
    ("won_count", "bigint"),
    ("lost_count", "bigint"),
    ("pipeline", "numeric"),
    ("pipeline_created", "numeric"),
]
TOTAL_NAMES = [name for name, _ in TOTAL_COLUMNS]
TEMP_TABLES = ["kpi_direct", "kpi_shared", "kpi_shared_totals", "kpi_tree", "kpi_owner", "kpi_duplicate", "kpi_quota",
               "kpi_node", "kpi_rep", "kpi_row", "kpi_balance", "kpi_leaf_balance", "kpi_gini", "kpi_derived"]
# ON COMMIT DROP only fires at the outermost commit; a run nested in a caller's transaction drops them first.
DROP_TEMP_TABLES_SQL = f"DROP TABLE IF EXISTS {', '.join(TEMP_TABLES)}"
QUOTA_METRICS = ["revenue", "visits", "pipeline", "new_accounts"]


def _sum_totals(alias: str) -> str:
    return ",\n    ".join(f"COALESCE(sum({alias}.{name}), 0) AS {name}" for name in TOTAL_NAMES)


_ACCOUNT_SQL = """
    SELECT aa.territory_id, a.id AS account_id, a.potential,
           (a.created_at >= %(start_at)s AND a.created_at < %(end_at)s) AS is_new,
           vc.visits_per_year,
           COALESCE(vc.visits_per_year * vc.minutes_per_visit, 0) / 60.0 AS workload_hours
    FROM accounts_accountassignment aa
    JOIN accounts_account a ON a.id = aa.account_id
    LEFT JOIN reps_visitcadence vc ON vc.tier = a.tier
    WHERE aa.scenario_id = %(scenario_id)s AND aa.valid_to IS NULL {territory_filter}
"""
# Per account: visits and activities in the period, and the last visit before the reference time, reading the
# period plus the longest cadence window (and only visits before the period).
_ACCOUNT_ACTIVITY_SQL = """
    SELECT account_id,
           count(*) FILTER (WHERE kind = 'visit' AND occurred_at >= %(start_at)s) AS visits,
           count(*) FILTER (WHERE occurred_at >= %(start_at)s) AS activities,
           max(occurred_at) FILTER (WHERE kind = 'visit' AND occurred_at < %(reference_at)s) AS last_visit_at
    FROM performance_activity
    WHERE occurred_at >= %(window_start_at)s AND occurred_at < %(end_at)s
          AND (occurred_at >= %(start_at)s OR kind = 'visit') {account_filter}
    GROUP BY account_id
"""
_ACCOUNT_OPPORTUNITY_SQL = """
    SELECT account_id,
           sum(amount) FILTER (WHERE stage = 'won' AND close_date BETWEEN %(start)s AND %(end)s) AS revenue_won,
           count(*) FILTER (WHERE stage = 'won' AND close_date BETWEEN %(start)s AND %(end)s) AS won_count,
           count(*) FILTER (WHERE stage = 'lost' AND close_date BETWEEN %(start)s AND %(end)s) AS lost_count,
           sum(amount) FILTER (WHERE stage NOT IN ('won', 'lost')
                               AND close_date BETWEEN %(start)s AND %(end)s) AS pipeline,
           sum(amount) FILTER (WHERE created_date BETWEEN %(start)s AND %(end)s) AS pipeline_created
    FROM performance_opportunity
    WHERE (close_date BETWEEN %(start)s AND %(end)s OR created_date BETWEEN %(start)s AND %(end)s) {account_filter}
    GROUP BY account_id
"""
_DIRECT_SELECT_SQL = """
SELECT acc.{key},
       count(*) AS account_count,
       count(*) FILTER (WHERE acc.is_new) AS new_accounts,
       COALESCE(sum(acc.potential), 0) AS potential,
       COALESCE(sum(acc.workload_hours), 0) AS workload_hours,
       count(*) FILTER (WHERE acc.visits_per_year > 0) AS eligible_accounts,
       count(*) FILTER (WHERE acc.visits_per_year > 0 AND act.last_visit_at >
                        %(reference_at)s - make_interval(secs => 31536000.0 / acc.visits_per_year)) AS covered_accounts,
       COALESCE(sum(act.visits), 0) AS visits,
       COALESCE(sum(act.activities), 0) AS activities,
       COALESCE(sum(opp.revenue_won), 0) AS revenue_won,
       COALESCE(sum(opp.won_count), 0) AS won_count,
       COALESCE(sum(opp.lost_count), 0) AS lost_count,
       COALESCE(sum(opp.pipeline), 0) AS pipeline,
       COALESCE(sum(opp.pipeline_created), 0) AS pipeline_created
FROM {accounts} acc
LEFT JOIN {activity} act ON act.account_id = acc.account_id
LEFT JOIN {opportunity} opp ON opp.account_id = acc.account_id
GROUP BY acc.{key}
"""


def direct_totals_sql(*, restricted: bool) -> list[str]:
    """Statements filling kpi_direct: totals of the accounts currently assigned to each territory.

    Activities and opportunities are grouped per account first, then hash-joined to the account rows. The
    account list is a materialised CTE: a restricted run (%(territory_ids)s) reads its few thousand accounts'
    activities through the (account, occurred_at) index; in a full run, inlining it invites a parallel plan in
    which every worker rebuilds the whole activity aggregate, and splitting the aggregates into temporary
    tables serialises the account scan (both measured slower at 1M accounts).
    """
    account_filter = "AND account_id = ANY(ARRAY(SELECT account_id FROM acc))" if restricted else ""
    territory_filter = "AND aa.territory_id = ANY(%(territory_ids)s)" if restricted else ""
    return [
        "CREATE TEMP TABLE kpi_direct ON COMMIT DROP AS\nWITH acc AS MATERIALIZED ("
        + _ACCOUNT_SQL.format(territory_filter=territory_filter)
        + "), act AS (" + _ACCOUNT_ACTIVITY_SQL.format(account_filter=account_filter)
        + "), opp AS (" + _ACCOUNT_OPPORTUNITY_SQL.format(account_filter=account_filter) + ")"
        + _DIRECT_SELECT_SQL.format(accounts="acc", activity="act", opportunity="opp", key="territory_id")
    ]


# Accounts currently in more than one territory of the scenario (an overlay or specialist territory beside the
# geographic one): each territory counts them, so every rollup that adds territories up would count them again.
# (At most one current row per account and territory: a unique index.) Reads every assignment in force, so it runs
# only when the scenario's assignments changed since the pairs were last found (SHARED_FINGERPRINT_SQL).
SHARED_FIND_SQL = """
SELECT account_id, territory_id FROM accounts_accountassignment
WHERE scenario_id = %(scenario_id)s AND valid_to IS NULL AND account_id IN (
    SELECT account_id FROM accounts_accountassignment WHERE scenario_id = %(scenario_id)s AND valid_to IS NULL
    GROUP BY account_id HAVING count(*) > 1)
ORDER BY account_id, territory_id
"""
# The state of a scenario's assignments in force: per territory, their number and the XOR of their hashes, which
# the assignment table's triggers keep (accounts.TerritoryAssignmentDigest); a few rows per territory.
SHARED_FINGERPRINT_SQL = """
SELECT territory_id, sum(rows), bit_xor(digest) FROM accounts_territoryassignmentdigest
WHERE scenario_id = %(scenario_id)s GROUP BY territory_id HAVING sum(rows) <> 0 OR bit_xor(digest) <> 0
ORDER BY territory_id
"""
SHARED_TABLE_SQL = """
CREATE TEMP TABLE kpi_shared ON COMMIT DROP AS
SELECT account_id, territory_id FROM unnest(%(shared_accounts)s::bigint[], %(shared_territories)s::bigint[])
    AS pair(account_id, territory_id)
"""
# Their totals, once per account (the same figures every territory holding them added).
_SHARED_ACCOUNT_SQL = """
    SELECT a.id AS account_id, a.potential, (a.created_at >= %(start_at)s AND a.created_at < %(end_at)s) AS is_new,
           vc.visits_per_year, COALESCE(vc.visits_per_year * vc.minutes_per_visit, 0) / 60.0 AS workload_hours
    FROM accounts_account a
    LEFT JOIN reps_visitcadence vc ON vc.tier = a.tier
    WHERE a.id IN (SELECT account_id FROM kpi_shared)
"""
_ACCOUNT_FILTER = "AND account_id = ANY(ARRAY(SELECT account_id FROM acc))"
SHARED_TOTALS_SQL = (
    "CREATE TEMP TABLE kpi_shared_totals ON COMMIT DROP AS\nWITH acc AS MATERIALIZED (" + _SHARED_ACCOUNT_SQL
    + "), act AS (" + _ACCOUNT_ACTIVITY_SQL.format(account_filter=_ACCOUNT_FILTER)
    + "), opp AS (" + _ACCOUNT_OPPORTUNITY_SQL.format(account_filter=_ACCOUNT_FILTER) + ")"
    + _DIRECT_SELECT_SQL.format(accounts="acc", activity="act", opportunity="opp", key="account_id")
)
# What each rollup counted more than once: per subject, each shared account's totals times the number of its
# territories the subject added up, less one. Territories add their subtree's direct totals, reps their book's
# territories, a level its territories' subtree totals (already counted once each), the scenario every territory.
# Each rep's book: every territory in the subtrees they own, each once.
_REP_BOOK_SQL = """SELECT DISTINCT o.rep_id, c.territory_id
    FROM kpi_owner o JOIN kpi_tree c ON c.ancestor_id = o.territory_id WHERE o.rep_id IS NOT NULL"""
DUPLICATES_SQL = f"""
CREATE TEMP TABLE kpi_duplicate ON COMMIT DROP AS
WITH member AS (
    SELECT 'territory'::text AS scope, c.ancestor_id AS subject_id, s.account_id
    FROM kpi_shared s JOIN kpi_tree c ON c.territory_id = s.territory_id
    UNION ALL
    SELECT 'rep', b.rep_id, s.account_id
    FROM kpi_shared s JOIN ({_REP_BOOK_SQL}) b ON b.territory_id = s.territory_id
    UNION ALL
    SELECT 'level', depth, account_id FROM (
        SELECT DISTINCT t.depth, c.ancestor_id, s.account_id FROM kpi_shared s
        JOIN kpi_tree c ON c.territory_id = s.territory_id
        JOIN territories_territory t ON t.id = c.ancestor_id) per_node
    UNION ALL
    SELECT 'scenario', 0, account_id FROM kpi_shared
), repeats AS (
    SELECT scope, subject_id, account_id, count(*) - 1 AS extra FROM member
    GROUP BY scope, subject_id, account_id HAVING count(*) > 1
)
SELECT r.scope, r.subject_id, {", ".join(f"sum(r.extra * a.{name}) AS {name}" for name in TOTAL_NAMES)}
FROM repeats r JOIN kpi_shared_totals a ON a.account_id = r.account_id
GROUP BY r.scope, r.subject_id
"""


def _less_duplicates(alias: str, duplicate: str) -> str:
    return ", ".join(f"{alias}.{name} - COALESCE({duplicate}.{name}, 0) AS {name}" for name in TOTAL_NAMES)


# The other territories' totals, as stored by the last run of this period (incremental runs only).
STORED_DIRECT_TOTALS_SQL = f"""
INSERT INTO kpi_direct (territory_id, {", ".join(TOTAL_NAMES)})
SELECT s.territory_id, {", ".join(f"COALESCE(b.{name}, 0)" for name in TOTAL_NAMES)}
FROM performance_kpisnapshot s,
     jsonb_to_record(s.base_totals::jsonb) AS b({", ".join(f"{name} {kind}" for name, kind in TOTAL_COLUMNS)})
WHERE s.scenario_id = %(scenario_id)s AND s.scope = 'territory' AND s.period_start = %(start)s
  AND s.period_end = %(end)s AND NOT (s.territory_id = ANY(%(territory_ids)s)) AND s.base_totals::jsonb <> '{{}}'
"""

TREE_SQL = """
CREATE TEMP TABLE kpi_tree ON COMMIT DROP AS
WITH RECURSIVE tree(ancestor_id, territory_id) AS (
    SELECT id, id FROM territories_territory WHERE scenario_id = %(scenario_id)s
    UNION ALL
    SELECT tree.ancestor_id, child.id FROM tree JOIN territories_territory child ON child.parent_id = tree.territory_id
)
SELECT ancestor_id, territory_id FROM tree
"""

# The owner in force on the reference day; an owner row without a rep is a recorded vacancy.
OWNER_SQL = """
CREATE TEMP TABLE kpi_owner ON COMMIT DROP AS
SELECT DISTINCT ON (ra.territory_id) ra.territory_id, ra.rep_id
FROM reps_repassignment ra
JOIN territories_territory t ON t.id = ra.territory_id
WHERE t.scenario_id = %(scenario_id)s AND ra.role = 'owner' AND ra.valid_from <= %(reference_date)s
  AND (ra.valid_to IS NULL OR ra.valid_to >= %(reference_date)s)
ORDER BY ra.territory_id, ra.valid_from DESC, ra.id DESC
"""

QUOTA_TABLE_SQL = """
CREATE TEMP TABLE kpi_quota (scope text, subject_id bigint, metric text, target numeric) ON COMMIT DROP
"""

# Each territory's subtree totals, direct owner, the capacity of the reps owning its subtree, and its quotas.
NODE_SQL = f"""
CREATE TEMP TABLE kpi_node ON COMMIT DROP AS
WITH node AS (
    SELECT t.id AS territory_id, t.depth, NOT EXISTS (
               SELECT 1 FROM territories_territory child WHERE child.parent_id = t.id) AS is_leaf,
           {_sum_totals("d")}
    FROM territories_territory t
    JOIN kpi_tree c ON c.ancestor_id = t.id
    LEFT JOIN kpi_direct d ON d.territory_id = c.territory_id
    WHERE t.scenario_id = %(scenario_id)s
    GROUP BY t.id, t.depth
), node_capacity AS (
    SELECT owned.ancestor_id AS territory_id, sum(r.capacity_hours) AS capacity_hours, count(*) AS rep_count
    FROM (SELECT DISTINCT c.ancestor_id, o.rep_id FROM kpi_tree c
          JOIN kpi_owner o ON o.territory_id = c.territory_id WHERE o.rep_id IS NOT NULL) owned
    JOIN reps_rep r ON r.id = owned.rep_id
    GROUP BY owned.ancestor_id
), quota AS (
    SELECT subject_id, {", ".join(f"sum(target) FILTER (WHERE metric = '{m}') AS quota_{m}" for m in QUOTA_METRICS)}
    FROM kpi_quota WHERE scope = 'territory' GROUP BY subject_id
)
SELECT n.territory_id, n.depth, n.is_leaf, {_less_duplicates("n", "dup")}, o.rep_id AS owner_rep_id,
       nc.capacity_hours, COALESCE(nc.rep_count, 0) AS rep_count, {", ".join(f"q.quota_{m}" for m in QUOTA_METRICS)}
FROM node n
LEFT JOIN kpi_duplicate dup ON dup.scope = 'territory' AND dup.subject_id = n.territory_id
LEFT JOIN node_capacity nc ON nc.territory_id = n.territory_id
LEFT JOIN kpi_owner o ON o.territory_id = n.territory_id
LEFT JOIN quota q ON q.subject_id = n.territory_id
"""

# Each rep's book: every territory in the subtrees they own (counted once), their capacity and quotas.
REP_SQL = f"""
CREATE TEMP TABLE kpi_rep ON COMMIT DROP AS
WITH rep_book AS (
    {_REP_BOOK_SQL}
), totals AS (
    SELECT b.rep_id, {_sum_totals("d")}
    FROM rep_book b LEFT JOIN kpi_direct d ON d.territory_id = b.territory_id
    GROUP BY b.rep_id
), quota AS (
    SELECT subject_id, {", ".join(f"sum(target) FILTER (WHERE metric = '{m}') AS quota_{m}" for m in QUOTA_METRICS)}
    FROM kpi_quota WHERE scope = 'rep' GROUP BY subject_id
)
SELECT totals.rep_id, {_less_duplicates("totals", "dup")}, r.capacity_hours,
       {", ".join(f"q.quota_{m}" for m in QUOTA_METRICS)}
FROM totals JOIN reps_rep r ON r.id = totals.rep_id
LEFT JOIN kpi_duplicate dup ON dup.scope = 'rep' AND dup.subject_id = totals.rep_id
LEFT JOIN quota q ON q.subject_id = totals.rep_id
"""

# One row per subject: territories, reps, hierarchy levels (sums over the level) and the whole scenario.
ROWS_SQL = f"""
CREATE TEMP TABLE kpi_row ON COMMIT DROP AS
SELECT 'territory'::text AS scope, n.territory_id, NULL::bigint AS rep_id, NULL::int AS level, n.depth, n.is_leaf,
       n.owner_rep_id, {", ".join(f"n.{name}" for name in TOTAL_NAMES)}, n.capacity_hours, n.rep_count,
       {", ".join(f"n.quota_{m}" for m in QUOTA_METRICS)}
FROM kpi_node n
UNION ALL
SELECT 'rep', NULL, r.rep_id, NULL, NULL, NULL, r.rep_id, {", ".join(f"r.{name}" for name in TOTAL_NAMES)},
       r.capacity_hours, 1, {", ".join(f"r.quota_{m}" for m in QUOTA_METRICS)}
FROM kpi_rep r
UNION ALL
SELECT 'level', NULL, NULL, lv.depth, lv.depth, NULL, NULL, {_less_duplicates("lv", "dup")},
       lv.capacity_hours, lv.rep_count, {", ".join(f"lv.quota_{m}" for m in QUOTA_METRICS)}
FROM (SELECT n.depth, {", ".join(f"sum(n.{name}) AS {name}" for name in TOTAL_NAMES)},
             sum(n.capacity_hours) AS capacity_hours, sum(n.rep_count) AS rep_count,
             {", ".join(f"sum(n.quota_{m}) AS quota_{m}" for m in QUOTA_METRICS)}
      FROM kpi_node n GROUP BY n.depth) lv
LEFT JOIN kpi_duplicate dup ON dup.scope = 'level' AND dup.subject_id = lv.depth
UNION ALL
SELECT 'scenario', NULL, NULL, NULL, NULL, NULL, NULL,
       {", ".join(f"(SELECT COALESCE(sum({name}), 0) FROM kpi_direct) - "
                  f"(SELECT COALESCE(sum({name}), 0) FROM kpi_duplicate WHERE scope = 'scenario')"
                  for name in TOTAL_NAMES)},
       (SELECT sum(capacity_hours) FROM kpi_rep), (SELECT count(*) FROM kpi_rep),
       {", ".join(f"(SELECT sum(quota_{m}) FROM kpi_node WHERE depth = 0)" for m in QUOTA_METRICS)}
"""


def _balance(alias_filter: str) -> str:
    """Coefficient of variation and largest relative deviation from the mean of three measures."""
    parts = []
    for measure in ("potential", "workload_hours", "account_count"):
        parts.append(
            f"round((stddev_pop({measure}) / NULLIF(avg({measure}), 0))::numeric, 4) AS cv_{measure}, "
            f"round((max(abs({measure} - mean_{measure})) / NULLIF(avg({measure}), 0))::numeric, 4) "
            f"AS max_deviation_{measure}"
        )
    return f"""
    SELECT {{group_key}}, count(*) AS territory_count, {", ".join(parts)}
    FROM (SELECT *, avg(potential) OVER w AS mean_potential, avg(workload_hours) OVER w AS mean_workload_hours,
                 avg(account_count) OVER w AS mean_account_count
          FROM kpi_row WHERE {alias_filter} WINDOW w AS (PARTITION BY {{partition}})) peers
    GROUP BY {{group_key}}
"""


BALANCE_SQL = f"""
CREATE TEMP TABLE kpi_balance ON COMMIT DROP AS
{_balance("scope = 'territory'").format(group_key="depth", partition="depth")}
"""
LEAF_BALANCE_SQL = f"""
CREATE TEMP TABLE kpi_leaf_balance ON COMMIT DROP AS
{_balance("scope = 'territory' AND is_leaf").format(group_key="is_leaf", partition="is_leaf")}
"""
# Gini of potential across reps: (2 Σ i·x_(i)) / (n Σ x) − (n + 1) / n with x sorted ascending.
GINI_SQL = """
CREATE TEMP TABLE kpi_gini ON COMMIT DROP AS
SELECT round((2 * sum(rank * potential) / NULLIF(max(n) * max(total), 0) - (max(n) + 1.0) / max(n))::numeric, 4)
       AS gini_potential_reps
FROM (SELECT potential, row_number() OVER (ORDER BY potential) AS rank, count(*) OVER () AS n,
             sum(potential) OVER () AS total
      FROM kpi_row WHERE scope = 'rep') ranked
"""

_PERCENT = "round((100.0 * ({num}) / NULLIF({den}, 0))::numeric, 1)"
DERIVED_SQL = f"""
CREATE TEMP TABLE kpi_derived ON COMMIT DROP AS
SELECT r.*,
       {_PERCENT.format(num="revenue_won", den="quota_revenue")} AS attainment,
       round((pipeline / NULLIF(GREATEST(quota_revenue - revenue_won, 0), 0))::numeric, 2) AS pipeline_coverage,
       {_PERCENT.format(num="won_count", den="won_count + lost_count")} AS win_rate,
       {_PERCENT.format(num="covered_accounts", den="eligible_accounts")} AS visit_coverage,
       {_PERCENT.format(num="workload_hours", den="capacity_hours")} AS workload_index,
       CASE WHEN scope IN ('territory', 'rep') THEN
           {_PERCENT.format(num="potential", den="avg(potential) OVER (PARTITION BY scope, depth)")} END
           AS potential_index,
       count(*) OVER (PARTITION BY scope, depth) AS peer_count,
       {_PERCENT.format(num="visits", den="quota_visits")} AS visit_attainment,
       {_PERCENT.format(num="pipeline_created", den="quota_pipeline")} AS pipeline_attainment,
       {_PERCENT.format(num="new_accounts", den="quota_new_accounts")} AS new_account_attainment
FROM kpi_row r
"""


def _flag(condition: str, code: str, severity: str, action: str, reason: str) -> str:
    return (f"CASE WHEN {condition} THEN jsonb_build_object('code', '{code}', 'severity', '{severity}', "
            f"'action', '{action}', 'reason', {reason}) END")


FLAGS_SQL = "to_jsonb(array_remove(ARRAY[" + ",\n".join([
    _flag("attainment < %(attainment_floor)s AND visit_coverage < %(coverage_floor)s", "under_performing", "high",
          "reassign", "format('attainment %%s%%%% under %%s%%%% while coverage %%s%%%% under %%s%%%%', "
          "round(attainment), %(attainment_floor)s, round(visit_coverage), %(coverage_floor)s)"),
    _flag("attainment < %(attainment_floor)s AND (visit_coverage IS NULL OR visit_coverage >= %(coverage_floor)s)",
          "low_attainment", "medium", "review",
          "format('attainment %%s%%%% under %%s%%%%', round(attainment), %(attainment_floor)s)"),
    _flag("visit_coverage < %(coverage_floor)s AND (attainment IS NULL OR attainment >= %(attainment_floor)s)",
          "low_coverage", "medium", "coverage",
          "format('visit coverage %%s%%%% under %%s%%%%', round(visit_coverage), %(coverage_floor)s)"),
    _flag("peer_count > 1 AND abs(potential_index - 100) > %(balance_tolerance)s", "unbalanced", "medium", "realign",
          "format('potential %%s%%%% %%s the mean of its level (tolerance %%s%%%%)', abs(round(potential_index - 100)),"
          " CASE WHEN potential_index > 100 THEN 'above' ELSE 'below' END, %(balance_tolerance)s)"),
    _flag("workload_index > %(workload_ceiling)s", "overloaded", "medium", "reassign",
          "format('workload %%s%%%% of capacity, over %%s%%%%', round(workload_index), %(workload_ceiling)s)"),
    _flag("scope = 'territory' AND is_leaf AND account_count > 0 AND owner_rep_id IS NULL", "vacant", "high",
          "reassign", "format('no owner for %%s accounts', account_count)"),
]) + "], NULL))"


def _metrics_json() -> str:
    pairs = [f"'{name}', {name}" for name in TOTAL_NAMES]
    pairs += [f"'quota_{m}', quota_{m}" for m in QUOTA_METRICS]
    pairs += [f"'{name}', {name}" for name in (
        "attainment", "pipeline_coverage", "win_rate", "visit_coverage", "workload_index", "potential_index",
        "visit_attainment", "pipeline_attainment", "new_account_attainment", "capacity_hours", "rep_count",
        "depth", "is_leaf", "owner_rep_id",
    )]
    # jsonb_build_object takes at most 100 arguments, so the pairs are built in chunks and merged.
    chunks = [pairs[i:i + 40] for i in range(0, len(pairs), 40)]
    return " || ".join(f"jsonb_build_object({', '.join(chunk)})" for chunk in chunks)


_BALANCE_JSON = """jsonb_build_object(
    'territory_count', b.territory_count, 'cv_potential', b.cv_potential,
    'max_deviation_potential', b.max_deviation_potential, 'cv_workload_hours', b.cv_workload_hours,
    'max_deviation_workload_hours', b.max_deviation_workload_hours, 'cv_account_count', b.cv_account_count,
    'max_deviation_account_count', b.max_deviation_account_count)"""

UPSERT_SQL = f"""
INSERT INTO performance_kpisnapshot (scenario_id, scope, territory_id, rep_id, level, period_start, period_end,
                                     metrics, flags, base_totals, computed_at, job_id, computed_by_id)
SELECT %(scenario_id)s, d.scope, d.territory_id, d.rep_id, d.level, %(start)s, %(end)s,
       ({_metrics_json()}
           || CASE d.scope WHEN 'level' THEN COALESCE((SELECT {_BALANCE_JSON} FROM kpi_balance b
                                                       WHERE b.depth = d.level), '{{}}'::jsonb)
                           WHEN 'scenario' THEN COALESCE((SELECT {_BALANCE_JSON} FROM kpi_leaf_balance b), '{{}}')
                               || COALESCE((SELECT to_jsonb(g) FROM kpi_gini g), '{{}}')
                           ELSE '{{}}'::jsonb END),
       CASE WHEN d.scope IN ('territory', 'rep') THEN {FLAGS_SQL} ELSE '[]'::jsonb END,
       CASE WHEN d.scope = 'territory' THEN COALESCE(d.base, '{{}}'::jsonb) ELSE '{{}}'::jsonb END,
       now(), %(job_id)s, %(user_id)s
FROM (SELECT derived.*, to_jsonb(k) - 'territory_id' AS base FROM kpi_derived derived
      LEFT JOIN kpi_direct k ON derived.scope = 'territory' AND k.territory_id = derived.territory_id) d
ON CONFLICT ON CONSTRAINT kpi_snapshot_one_per_subject_period DO UPDATE SET
    metrics = EXCLUDED.metrics, flags = EXCLUDED.flags, base_totals = EXCLUDED.base_totals,
    computed_at = EXCLUDED.computed_at, job_id = EXCLUDED.job_id, computed_by_id = EXCLUDED.computed_by_id
-- Unchanged rows are left alone: an incremental run rewrites only the few subjects whose figures moved.
WHERE (performance_kpisnapshot.metrics, performance_kpisnapshot.flags, performance_kpisnapshot.base_totals)
      IS DISTINCT FROM (EXCLUDED.metrics, EXCLUDED.flags, EXCLUDED.base_totals)
"""

# Rows whose subject this run did not produce (a territory or rep that left the scenario) are stale.
DELETE_STALE_SQL = """
DELETE FROM performance_kpisnapshot s
WHERE s.scenario_id = %(scenario_id)s AND s.period_start = %(start)s AND s.period_end = %(end)s
  AND NOT EXISTS (SELECT 1 FROM kpi_derived d WHERE d.scope = s.scope  -- COALESCE keeps the anti-join hashable
                  AND COALESCE(d.territory_id, 0) = COALESCE(s.territory_id, 0)
                  AND COALESCE(d.rep_id, 0) = COALESCE(s.rep_id, 0) AND COALESCE(d.level, -1) = COALESCE(s.level, -1))
"""
