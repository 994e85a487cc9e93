"""Allocation matching in SQL: every (account, leaf, rule) candidate, then one winner per account.

The candidates table is narrow (account, territory, rule): the ranks that break ties are looked up from the
targets only for the few accounts that have several candidates. When there are as many candidates as accounts in
scope and the XOR of a hash of their account ids equals the accounts' (every account matched exactly once, the
usual state of a full alignment), there are no ties; otherwise ties are found with one sort of the account ids
(PostgreSQL's hash aggregate over a million distinct keys is several times slower). The winners are chosen in
place, so the candidates table becomes the result without copying a million rows.
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from accounts.services.allocation_plan import _Plan
from accounts.services.criteria import TEXT_FIELDS, criteria_compile

Progress = Callable[[float, str], None] | None


def _predicate(plan: _Plan, rule_id: int, alias: str) -> tuple[str, list]:
    criteria, logic = plan.criteria[rule_id]
    return criteria_compile(criteria=criteria, logic=logic, alias=alias)


def _create_work_tables(cursor, plan: _Plan) -> None:
    cursor.execute(
        "CREATE TEMP TABLE _alloc_target_rule (rule_id bigint, territory_id bigint, depth int, type_priority int,"
        " rule_priority int, owner_id bigint, code_rank int) ON COMMIT DROP"
    )
    with cursor.copy("COPY _alloc_target_rule FROM STDIN") as copy:
        for target in plan.targets:
            copy.write_row(
                (
                    target.rule_id,
                    target.territory_id,
                    target.depth,
                    target.type_priority,
                    target.rule_priority,
                    target.owner_id,
                    target.code_rank,
                )
            )
    cursor.execute("ANALYZE _alloc_target_rule")
    cursor.execute(
        "CREATE TEMP TABLE _alloc_candidate (account_id bigint, territory_id bigint, rule_id bigint) ON COMMIT DROP"
    )


def _collect_candidates(cursor, plan: _Plan, *, scope_sql: str, progress: Progress) -> None:
    """Every (account, leaf, rule) that matches, into _alloc_candidate."""
    spatial = [t for t in plan.targets if t.owner_id is not None]
    field_only = [t for t in plan.targets if t.owner_id is None]
    if spatial:
        if progress:
            progress(10, "Matching accounts to boundaries")
        owner_ids = sorted({t.owner_id for t in spatial})
        tested = sorted({t.rule_id for t in spatial if t.rule_id in plan.criteria})
        condition, params = "TRUE", []
        if tested:
            # Field tests on top of the boundary, evaluated only for the accounts inside it.
            whens = []
            for pk in tested:
                sql, rule_params = _predicate(plan, pk, "hit")
                whens.append(f"WHEN {int(pk)} THEN ({sql})")
                params.extend(rule_params)
            condition = f"CASE rt.rule_id {' '.join(whens)} ELSE TRUE END"
        columns = "a.*" if tested else "a.id"
        if not tested and len(spatial) == len(owner_ids):
            # One target per polygon (geography-only leaves): its ranks ride along from the outer side, so
            # no join per hit. The polygon stays on the outer side, as explained below.
            cursor.execute(
                f"""
                INSERT INTO _alloc_candidate
                SELECT hit.id, rt.territory_id, rt.rule_id
                FROM _alloc_target_rule rt
                JOIN territories_territory owner ON owner.id = rt.owner_id
                CROSS JOIN LATERAL (
                    SELECT a.id FROM accounts_account a WHERE ST_Covers(owner.boundary, a.location) {scope_sql}
                    OFFSET 0
                ) hit
                """
            )
            spatial = []
    if spatial:
        # The polygon is the outer side (LATERAL ... OFFSET 0 keeps it there): PostGIS prepares each polygon
        # once and probes the accounts' GiST index with it; the planner's own choice is several times slower.
        cursor.execute(
            f"""
            INSERT INTO _alloc_candidate
            SELECT hit.id, rt.territory_id, rt.rule_id
            FROM territories_territory owner
            CROSS JOIN LATERAL (
                SELECT {columns} FROM accounts_account a
                WHERE ST_Covers(owner.boundary, a.location) {scope_sql}
                OFFSET 0
            ) hit
            JOIN _alloc_target_rule rt ON rt.owner_id = owner.id
            WHERE owner.id = ANY(%s) AND {condition}
            """,
            [owner_ids, *params],
        )
    if field_only:
        if progress:
            progress(35, "Evaluating field rules")
        _collect_field_rule_candidates(cursor, plan, sorted({t.rule_id for t in field_only}), scope_sql=scope_sql)


MAX_KEY_FIELDS = 3
MAX_KEY_ROWS = 10_000


def _rule_key(criteria: list[dict], logic: str) -> tuple[tuple[str, ...], list[tuple[str, ...]], list[dict]] | None:
    """For an all-of rule with equals/in tests on text fields: (key fields, key value tuples, other criteria).

    All such tests form one composite key, so a state x industry rule is found by one hash probe per account.
    """
    if logic != "all":
        return None
    keyed, rest = {}, []
    for item in criteria:
        usable = "criteria" not in item and item["field"] in TEXT_FIELDS and item["op"] in {"equals", "in"}
        if usable and item["field"] not in keyed and len(keyed) < MAX_KEY_FIELDS:
            keyed[item["field"]] = [str(item["value"])] if item["op"] == "equals" else [str(v) for v in item["value"]]
        else:
            rest.append(item)
    if not keyed:
        return None
    fields = tuple(sorted(keyed))
    combinations = list(itertools.islice(itertools.product(*(keyed[name] for name in fields)), MAX_KEY_ROWS + 1))
    if len(combinations) > MAX_KEY_ROWS:
        return None
    return fields, combinations, rest


def _collect_field_rule_candidates(cursor, plan: _Plan, rule_ids: list[int], *, scope_sql: str) -> None:
    """Field-only rules. Rules that test text fields for equality become a lookup table hash-joined with the
    accounts (then only the rest of each rule is checked, for the accounts it keyed); the others are evaluated
    together in one scan with a CASE per rule. Either way, no statement per rule and no loop over accounts."""
    keyed: dict[tuple[str, ...], list[tuple[int, list[tuple[str, ...]], list[dict]]]] = {}
    scanned = []
    for pk in rule_ids:
        key = _rule_key(*plan.criteria[pk]) if pk in plan.criteria else None
        if key is None:
            scanned.append(pk)
        else:
            keyed.setdefault(key[0], []).append((pk, key[1], key[2]))
    if keyed:
        cursor.execute(
            "CREATE TEMP TABLE _alloc_rule_key (fields text, v1 text, v2 text, v3 text, rule_id bigint) ON COMMIT DROP"
        )
        with cursor.copy("COPY _alloc_rule_key FROM STDIN") as copy:
            for fields, rules in keyed.items():
                for pk, combinations, _rest in rules:
                    for values in combinations:
                        padded = list(values) + [None] * (MAX_KEY_FIELDS - len(values))
                        copy.write_row((",".join(fields), *padded, pk))
        cursor.execute("ANALYZE _alloc_rule_key")
    for fields, rules in keyed.items():
        whens, params = [], []
        for pk, _values, rest in rules:
            if rest:
                sql, rule_params = criteria_compile(criteria=rest, logic="all", alias="a")
                whens.append(f"WHEN {int(pk)} THEN ({sql})")
                params.extend(rule_params)
        residual = f"CASE k.rule_id {' '.join(whens)} ELSE TRUE END" if whens else "TRUE"
        # field names come from the whitelist in criteria.TEXT_FIELDS
        join = " AND ".join(f"k.v{index} = a.{name}" for index, name in enumerate(fields, start=1))
        cursor.execute(
            f"""
            INSERT INTO _alloc_candidate
            SELECT a.id, rt.territory_id, rt.rule_id
            FROM accounts_account a
            JOIN _alloc_rule_key k ON k.fields = %s AND {join}
            JOIN _alloc_target_rule rt ON rt.rule_id = k.rule_id AND rt.owner_id IS NULL
            WHERE {residual} {scope_sql}
            """,
            [",".join(fields), *params],
        )
    if not scanned:
        return
    parts, params = [], []
    for pk in scanned:
        if pk in plan.criteria:
            sql, rule_params = _predicate(plan, pk, "a")
            parts.append(f"CASE WHEN {sql} THEN {int(pk)} END")
            params.extend(rule_params)
        else:
            parts.append(str(int(pk)))  # a rule without criteria or boundary takes every account
    # One scan of the accounts evaluates the remaining field rules; only the matches become rows.
    cursor.execute(
        f"""
        INSERT INTO _alloc_candidate
        SELECT hit.account_id, rt.territory_id, rt.rule_id
        FROM (
            SELECT a.id AS account_id,
                   unnest(array_remove(ARRAY[{", ".join(parts)}]::bigint[], NULL)) AS rule_id
            FROM accounts_account a WHERE TRUE {scope_sql}
        ) hit
        JOIN _alloc_target_rule rt ON rt.rule_id = hit.rule_id AND rt.owner_id IS NULL
        """,
        params,
    )


def source_sql(alias: str) -> str:
    """The assignment source of a result row: its override, else its rule, else its boundary alone."""
    return (
        f"CASE WHEN {alias}.override_id IS NOT NULL THEN 'override' WHEN {alias}.rule_id IS NULL THEN 'geography'"
        f" ELSE 'rule' END"
    )


_EXCLUSIONS_SQL = """
WITH RECURSIVE subtree(root_id, id) AS (
    SELECT id, id FROM territories_territory WHERE scenario_id = %(scenario)s
    UNION ALL
    SELECT subtree.root_id, child.id FROM territories_territory child JOIN subtree ON child.parent_id = subtree.id
)
DELETE FROM _alloc_result c
USING accounts_accountoverride o, subtree
WHERE o.scenario_id = %(scenario)s AND o.is_active AND o.kind = 'exclude'
  AND subtree.root_id = o.territory_id AND c.territory_id = subtree.id AND c.account_id = o.account_id
"""

# A candidate's ranks come from its target: (territory, rule) is unique there (rule NULL for a boundary alone).
_TARGET_JOIN = "rt.territory_id = c.territory_id AND coalesce(rt.rule_id, 0) = coalesce(c.rule_id, 0)"

_WINNER_SQL = f"""
CREATE TEMP TABLE _alloc_winner ON COMMIT DROP AS
SELECT DISTINCT ON (c.account_id) c.ctid AS row_id, c.account_id, c.territory_id, rt.depth, rt.type_priority,
       rt.rule_priority
FROM _alloc_result c
JOIN _alloc_several s ON s.account_id = c.account_id
JOIN _alloc_target_rule rt ON {_TARGET_JOIN}
ORDER BY c.account_id, rt.depth DESC, rt.type_priority, rt.rule_priority, rt.code_rank, c.rule_id
"""

_MULTI_MATCH_SQL = f"""
CREATE TEMP TABLE _alloc_multi ON COMMIT DROP AS
SELECT w.account_id, w.territory_id,
       array_agg(DISTINCT c.territory_id) FILTER (WHERE c.territory_id <> w.territory_id) AS others,
       CASE
           WHEN min(rt.type_priority) FILTER (WHERE c.territory_id <> w.territory_id) > w.type_priority
               THEN 'territory type priority'
           WHEN min(rt.rule_priority) FILTER (
               WHERE c.territory_id <> w.territory_id AND rt.type_priority = w.type_priority) > w.rule_priority
               THEN 'rule priority'
           ELSE 'territory code'
       END AS resolved_by
FROM _alloc_winner w
JOIN _alloc_result c ON c.account_id = w.account_id
JOIN _alloc_target_rule rt ON {_TARGET_JOIN} AND rt.depth = w.depth
GROUP BY w.account_id, w.territory_id, w.type_priority, w.rule_priority
HAVING count(DISTINCT c.territory_id) > 1
"""

_MULTI_MATCH_REASON_SQL = """
UPDATE _alloc_result r
SET reason = left('Also matched ' || (
        SELECT string_agg(t.code, ', ' ORDER BY t.code) FROM territories_territory t WHERE t.id = ANY(m.others)
    ) || '; won on ' || m.resolved_by || '.', 300)
FROM _alloc_multi m
WHERE m.account_id = r.account_id
"""


@dataclass
class _Tallies:
    """One pass over _alloc_result and one over the accounts in scope. `per_territory` rows are (territory, rows,
    rows by rule, rows by override, digest as accounts.TerritoryAssignmentDigest computes it, XOR of account hashes)."""

    per_territory: list[tuple]
    in_scope: int
    in_scope_xor: int

    @property
    def assigned(self) -> int:
        return sum(row[1] for row in self.per_territory)

    @property
    def every_account_once(self) -> bool:
        """As many result rows as accounts in scope, with the same XOR of account hashes: each account exactly once
        (an account twice and another missing would need two ids with the same 64-bit hash)."""
        combined = 0
        for row in self.per_territory:
            combined ^= row[5]
        return self.assigned == self.in_scope and combined == self.in_scope_xor


def _tallies(cursor, *, scope_sql: str) -> _Tallies:
    # Source code 0 in the digest: a result row's source is the one its rule and override give.
    cursor.execute(
        "SELECT territory_id, count(*), count(rule_id), count(override_id),"
        " bit_xor(accounts_assignment_key_hash(account_id, 0, rule_id, override_id)),"
        " bit_xor(hashint8extended(account_id, 0))"
        " FROM _alloc_result GROUP BY territory_id"
    )
    per_territory = cursor.fetchall()
    cursor.execute(
        "SELECT count(*), coalesce(bit_xor(hashint8extended(a.id, 0)), 0)"
        f" FROM accounts_account a WHERE TRUE {scope_sql}"
    )
    in_scope, in_scope_xor = cursor.fetchone()
    return _Tallies(per_territory=per_territory, in_scope=in_scope, in_scope_xor=in_scope_xor)


def _resolve(cursor, plan: _Plan, *, scope_sql: str) -> tuple[int, _Tallies | None]:
    """Turn the candidates into _alloc_result, one row per account: its assign override, else its best candidate
    (deepest, then territory type priority, rule priority, territory code). Returns how many accounts had several
    candidates (for those, _alloc_multi says which tied at the winning depth and how each tie was broken) and the
    result's tallies when ranking left the rows as they were (None when it deleted some)."""
    cursor.execute("ALTER TABLE _alloc_candidate RENAME TO _alloc_result")
    # Added without a default to rewrite: a metadata change, whatever the table's size.
    cursor.execute(
        "ALTER TABLE _alloc_result ADD COLUMN override_id bigint, ADD COLUMN reason varchar(300) NOT NULL DEFAULT ''"
    )
    if _has_overrides(cursor, plan.scenario_id, kind="exclude"):
        cursor.execute(_EXCLUSIONS_SQL, {"scenario": plan.scenario_id})
    if _has_overrides(cursor, plan.scenario_id, kind="assign"):
        cursor.execute(
            "DELETE FROM _alloc_result c USING accounts_accountoverride o"
            " WHERE o.scenario_id = %s AND o.is_active AND o.kind = 'assign' AND o.account_id = c.account_id",
            [plan.scenario_id],
        )
        override_scope = scope_sql.replace("a.id", "o.account_id")
        cursor.execute(
            f"""
            INSERT INTO _alloc_result (account_id, territory_id, rule_id, override_id, reason)
            SELECT o.account_id, o.territory_id, NULL, o.id, left(o.reason, 300)
            FROM accounts_accountoverride o
            WHERE o.scenario_id = %s AND o.is_active AND o.kind = 'assign' {override_scope}
            """,
            [plan.scenario_id],
        )
    tallies = _tallies(cursor, scope_sql=scope_sql)
    if tallies.every_account_once:
        return 0, tallies
    # Some accounts unmatched, or some matched more than once: one sort of the ids says which.
    cursor.execute("SELECT count(*), count(DISTINCT account_id) FROM _alloc_result")
    rows, accounts = cursor.fetchone()
    if rows == accounts:
        return 0, tallies
    # Sorted grouping here too: far cheaper than hashing a million groups to keep a few.
    cursor.execute("SET LOCAL enable_hashagg = off")
    cursor.execute(
        "CREATE TEMP TABLE _alloc_several ON COMMIT DROP AS "
        "SELECT account_id FROM _alloc_result GROUP BY account_id HAVING count(*) > 1"
    )
    several = cursor.rowcount
    cursor.execute("SET LOCAL enable_hashagg = on")
    cursor.execute("ANALYZE _alloc_several")
    cursor.execute(_WINNER_SQL)
    cursor.execute(_MULTI_MATCH_SQL)
    cursor.execute(
        "DELETE FROM _alloc_result c USING _alloc_winner w WHERE c.account_id = w.account_id AND c.ctid <> w.row_id"
    )
    cursor.execute(_MULTI_MATCH_REASON_SQL)
    return several, None


def _has_overrides(cursor, scenario_id: int, *, kind: str) -> bool:
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM accounts_accountoverride WHERE scenario_id = %s AND is_active AND kind = %s)",
        [scenario_id, kind],
    )
    return cursor.fetchone()[0]


def _multi_matches(cursor, plan: _Plan, *, several: int, limit: int) -> tuple[int, list[dict]]:
    """How many accounts fit several leaves at the winning depth, and the first of them with how each was won."""
    if not several:
        return 0, []
    cursor.execute("SELECT count(*) FROM _alloc_multi")
    total = cursor.fetchone()[0]
    cursor.execute(
        "SELECT m.account_id, acc.external_id, m.territory_id, m.others, m.resolved_by FROM _alloc_multi m"
        " JOIN accounts_account acc ON acc.id = m.account_id ORDER BY acc.external_id LIMIT %s",
        [limit],
    )
    listed = [
        {
            "account_id": account_id,
            "external_id": external_id,
            "territory": plan.codes[territory_id],
            "also_matched": sorted(plan.codes[pk] for pk in others),
            "resolved_by": resolved_by,
        }
        for account_id, external_id, territory_id, others, resolved_by in cursor.fetchall()
    ]
    return total, listed
