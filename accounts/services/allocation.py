"""The allocation engine: which territory of a scenario each account belongs to, computed in PostGIS.

How an account finds its territory
- Accounts are placed in leaf territories. A leaf's rules are its own active rules plus the active rules of its
  ancestors marked "applies to children". A leaf with no rules but with its own boundary is a geography-only
  territory: it takes the accounts inside its boundary (ST_Covers, so the border counts as inside).
- "Within boundary" tests the leaf's own boundary, or the nearest ancestor's when the leaf has none; with no
  boundary anywhere above it, such a rule matches nothing and the preview warns about it (field-only rules
  say within_boundary = false).
- When an account matches several leaves, the deepest wins, then the lower territory type priority, then the
  lower rule priority, then the lower territory code; such accounts are counted and listed as multi-matches.
- Active overrides win over rules: "assign" puts the account in its territory whatever the rules say;
  "exclude" keeps it out of that territory and its subtree. Runs never undo them.

How it runs
Everything is set-based SQL over temporary tables: one spatial join with the polygon on the outer side (so
PostGIS prepares each polygon once and walks the accounts' GiST index), one scan of the accounts for
field-only rules with all rules compiled into a single CASE array, one window pass to rank candidates, then
one UPDATE closing the assignments that change and one INSERT ... SELECT for the new ones.
"""

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone

from accounts.models import AccountAssignment, AllocationRun
from accounts.services.criteria import criteria_compile
from territories.models import AssignmentRule, Scenario, Territory

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], None] | None
NO_PRIORITY = 2_147_483_647  # sorts after every real priority
SAMPLE_LIMIT = 100  # accounts listed per category in a preview


@dataclass
class _RuleTarget:
    """One (rule, leaf) pair the engine evaluates; rule_id None is a geography-only leaf."""

    rule_id: int | None
    territory_id: int
    depth: int
    type_priority: int
    rule_priority: int
    owner_id: int | None  # the territory whose boundary must cover the account, if any
    code_rank: int = 0  # the territory code's place in sort order, the last tie-breaker


@dataclass
class _Plan:
    scenario_id: int
    targets: list[_RuleTarget] = field(default_factory=list)
    criteria: dict[int, tuple[list, str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    leaf_ids: set[int] = field(default_factory=set)
    codes: dict[int, str] = field(default_factory=dict)


def allocation_plan(*, scenario: Scenario, territory_ids: Iterable[int] | None = None) -> _Plan:
    """Resolve the hierarchy and rules into (rule, leaf) targets; a Python pass over territories, not accounts."""
    rows = list(
        Territory.objects.filter(scenario=scenario)
        .annotate(no_boundary=ExpressionWrapper(Q(boundary__isnull=True), output_field=BooleanField()))
        .values_list("id", "parent_id", "depth", "code", "territory_type__priority", "no_boundary")
    )
    parent_of = {row[0]: row[1] for row in rows}
    depth_of = {row[0]: row[2] for row in rows}
    has_boundary = {row[0]: not row[5] for row in rows}
    type_priority = {row[0]: row[4] for row in rows}
    plan = _Plan(scenario_id=scenario.pk, codes={row[0]: row[3] for row in rows})
    parents = {parent for parent in parent_of.values() if parent is not None}
    leaves = [pk for pk in parent_of if pk not in parents]

    rules_by_territory: dict[int, list[dict]] = {}
    for rule in AssignmentRule.objects.filter(territory__scenario=scenario, is_active=True).values(
        "id", "territory_id", "priority", "logic", "criteria", "within_boundary", "applies_to_children"
    ):
        rules_by_territory.setdefault(rule["territory_id"], []).append(rule)
        if rule["criteria"]:
            plan.criteria[rule["id"]] = (rule["criteria"], rule["logic"])

    def ancestors(pk: int) -> list[int]:
        chain, current = [], parent_of.get(pk)
        while current is not None and len(chain) < 100:
            chain.append(current)
            current = parent_of.get(current)
        return chain

    code_rank = {pk: rank for rank, pk in enumerate(sorted(plan.codes, key=lambda pk: plan.codes[pk]))}
    wanted = None
    if territory_ids is not None:
        changed = set(territory_ids)
        # a changed territory affects the leaves below it
        wanted = {leaf for leaf in leaves if leaf in changed or changed.intersection(ancestors(leaf))}

    for leaf in leaves:
        if wanted is not None and leaf not in wanted:
            continue
        chain = ancestors(leaf)
        leaf_type_priority = next(
            (type_priority[pk] for pk in [leaf, *chain] if type_priority[pk] is not None), NO_PRIORITY
        )
        owner = next((pk for pk in [leaf, *chain] if has_boundary[pk]), None)
        rules = list(rules_by_territory.get(leaf, []))
        for ancestor in chain:
            rules.extend(rule for rule in rules_by_territory.get(ancestor, []) if rule["applies_to_children"])
        plan.leaf_ids.add(leaf)
        if not rules:
            if has_boundary[leaf]:
                plan.targets.append(
                    _RuleTarget(None, leaf, depth_of[leaf], leaf_type_priority, NO_PRIORITY, leaf, code_rank[leaf])
                )
            continue
        for rule in rules:
            rule_owner = owner if rule["within_boundary"] else None
            if rule["within_boundary"] and owner is None:
                plan.warnings.append(
                    f"Rule {rule['id']} needs a boundary but {plan.codes[leaf]} and its parents have none."
                )
                continue
            plan.targets.append(
                _RuleTarget(rule["id"], leaf, depth_of[leaf], leaf_type_priority, rule["priority"], rule_owner,
                            code_rank[leaf])
            )
    return plan



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
            copy.write_row((target.rule_id, target.territory_id, target.depth, target.type_priority,
                            target.rule_priority, target.owner_id, target.code_rank))
    cursor.execute("ANALYZE _alloc_target_rule")
    cursor.execute(
        "CREATE TEMP TABLE _alloc_candidate (account_id bigint, territory_id bigint, rule_id bigint, depth int,"
        " type_priority int, rule_priority int, code_rank int) ON COMMIT DROP"
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
        # The polygon is the outer side (LATERAL ... OFFSET 0 keeps it there): PostGIS prepares each polygon
        # once and probes the accounts' GiST index with it; the planner's own choice is several times slower.
        cursor.execute(
            f"""
            INSERT INTO _alloc_candidate
            SELECT hit.id, rt.territory_id, rt.rule_id, rt.depth, rt.type_priority, rt.rule_priority, rt.code_rank
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
        rule_ids = sorted({t.rule_id for t in field_only})
        parts, params = [], []
        for pk in rule_ids:
            if pk in plan.criteria:
                sql, rule_params = _predicate(plan, pk, "a")
                parts.append(f"CASE WHEN {sql} THEN {int(pk)} END")
                params.extend(rule_params)
            else:
                parts.append(str(int(pk)))  # a rule without criteria or boundary takes every account
        # One scan of the accounts evaluates every field rule; only the matches become rows.
        cursor.execute(
            f"""
            INSERT INTO _alloc_candidate
            SELECT hit.account_id, rt.territory_id, rt.rule_id, rt.depth, rt.type_priority, rt.rule_priority,
                   rt.code_rank
            FROM (
                SELECT a.id AS account_id,
                       unnest(array_remove(ARRAY[{", ".join(parts)}]::bigint[], NULL)) AS rule_id
                FROM accounts_account a WHERE TRUE {scope_sql}
            ) hit
            JOIN _alloc_target_rule rt ON rt.rule_id = hit.rule_id AND rt.owner_id IS NULL
            """,
            params,
        )


_EXCLUSIONS_SQL = """
WITH RECURSIVE subtree(root_id, id) AS (
    SELECT id, id FROM territories_territory WHERE scenario_id = %(scenario)s
    UNION ALL
    SELECT subtree.root_id, child.id FROM territories_territory child JOIN subtree ON child.parent_id = subtree.id
)
DELETE FROM _alloc_candidate c
USING accounts_accountoverride o, subtree
WHERE o.scenario_id = %(scenario)s AND o.is_active AND o.kind = 'exclude'
  AND subtree.root_id = o.territory_id AND c.territory_id = subtree.id AND c.account_id = o.account_id
"""


def _resolve(cursor, plan: _Plan, *, scope_sql: str) -> None:
    """Pick one territory per account into _alloc_result: its assign override, else its best candidate."""
    if _has_overrides(cursor, plan.scenario_id, kind="exclude"):
        cursor.execute(_EXCLUSIONS_SQL, {"scenario": plan.scenario_id})
    cursor.execute(
        "CREATE TEMP TABLE _alloc_result (account_id bigint, territory_id bigint, source varchar(16), rule_id bigint,"
        " override_id bigint, candidates int, depth int, type_priority int, rule_priority int,"
        " reason varchar(300)) ON COMMIT DROP"
    )
    override_scope = scope_sql.replace("a.id", "o.account_id")
    cursor.execute(
        f"""
        INSERT INTO _alloc_result
        SELECT o.account_id, o.territory_id, 'override', NULL, o.id, 0, 0, 0, 0, left(o.reason, 300)
        FROM accounts_accountoverride o
        WHERE o.scenario_id = %s AND o.is_active AND o.kind = 'assign' {override_scope}
        """,
        [plan.scenario_id],
    )
    pinned_filter = ""
    if cursor.rowcount:
        pinned_filter = "AND NOT EXISTS (SELECT 1 FROM _alloc_result p WHERE p.account_id = ranked.account_id)"
    # One sort ranks every account's candidates: deepest, then type priority, rule priority, territory code.
    cursor.execute(
        f"""
        INSERT INTO _alloc_result
        SELECT account_id, territory_id, CASE WHEN rule_id IS NULL THEN 'geography' ELSE 'rule' END, rule_id,
               NULL, candidates, depth, type_priority, rule_priority, ''
        FROM (
            SELECT c.*, row_number() OVER best AS position, count(*) OVER (PARTITION BY account_id) AS candidates
            FROM _alloc_candidate c
            WINDOW best AS (PARTITION BY account_id ORDER BY depth DESC, type_priority, rule_priority, code_rank)
        ) ranked
        WHERE position = 1 {pinned_filter}
        """
    )


def _has_overrides(cursor, scenario_id: int, *, kind: str) -> bool:
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM accounts_accountoverride WHERE scenario_id = %s AND is_active AND kind = %s)",
        [scenario_id, kind],
    )
    return cursor.fetchone()[0]


_MULTI_MATCH_SQL = """
CREATE TEMP TABLE _alloc_multi ON COMMIT DROP AS
SELECT r.account_id, r.territory_id,
       array_agg(DISTINCT c.territory_id) FILTER (WHERE c.territory_id <> r.territory_id) AS others,
       CASE
           WHEN min(c.type_priority) FILTER (WHERE c.territory_id <> r.territory_id) > r.type_priority
               THEN 'territory type priority'
           WHEN min(c.rule_priority) FILTER (
               WHERE c.territory_id <> r.territory_id AND c.type_priority = r.type_priority) > r.rule_priority
               THEN 'rule priority'
           ELSE 'territory code'
       END AS resolved_by
FROM _alloc_result r
JOIN _alloc_candidate c ON c.account_id = r.account_id AND c.depth = r.depth
WHERE r.candidates > 1 AND r.source <> 'override'
GROUP BY r.account_id, r.territory_id, r.type_priority, r.rule_priority
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


def _multi_matches(cursor, plan: _Plan, *, limit: int) -> tuple[int, list[dict]]:
    """Accounts that fit several leaves at the winning depth, how each tie was broken, and the reason noted."""
    cursor.execute("SELECT EXISTS (SELECT 1 FROM _alloc_result WHERE candidates > 1)")
    if not cursor.fetchone()[0]:
        return 0, []
    cursor.execute(_MULTI_MATCH_SQL)
    cursor.execute(_MULTI_MATCH_REASON_SQL)
    cursor.execute("SELECT count(*) FROM _alloc_multi")
    total = cursor.fetchone()[0]
    cursor.execute(
        "SELECT m.account_id, acc.external_id, m.territory_id, m.others, m.resolved_by FROM _alloc_multi m"
        " JOIN accounts_account acc ON acc.id = m.account_id ORDER BY acc.external_id LIMIT %s",
        [limit],
    )
    listed = [
        {"account_id": account_id, "external_id": external_id, "territory": plan.codes[territory_id],
         "also_matched": sorted(plan.codes[pk] for pk in others), "resolved_by": resolved_by}
        for account_id, external_id, territory_id, others, resolved_by in cursor.fetchall()
    ]
    return total, listed


def _summarise(cursor, plan: _Plan, *, scope_sql: str, with_samples: bool) -> dict:
    """Counts of what the run changes against the assignments in force, before anything is written."""
    current_scope = scope_sql.replace("a.id", "c.account_id")
    cursor.execute(
        f"""
        CREATE TEMP TABLE _alloc_current ON COMMIT DROP AS
        SELECT DISTINCT ON (c.account_id) c.account_id, c.territory_id
        FROM accounts_accountassignment c
        WHERE c.scenario_id = %s AND c.valid_to IS NULL {current_scope}
        ORDER BY c.account_id, c.valid_from DESC
        """,
        [plan.scenario_id],
    )
    cursor.execute(
        """
        SELECT cur.territory_id, res.territory_id, count(*)
        FROM _alloc_result res FULL JOIN _alloc_current cur ON cur.account_id = res.account_id
        GROUP BY 1, 2
        """
    )
    unchanged = moved = newly_assigned = newly_unassigned = 0
    moves = []
    for from_id, to_id, count in cursor.fetchall():
        if from_id == to_id:
            unchanged += count
            continue
        if from_id is None:
            newly_assigned += count
        elif to_id is None:
            newly_unassigned += count
        else:
            moved += count
        moves.append({"from": plan.codes.get(from_id) if from_id else None,
                      "to": plan.codes.get(to_id) if to_id else None, "accounts": count})
    moves.sort(key=lambda move: (-move["accounts"], move["from"] or "", move["to"] or ""))
    cursor.execute(f"SELECT count(*) FROM accounts_account a WHERE TRUE {scope_sql}")
    in_scope = cursor.fetchone()[0]
    cursor.execute("SELECT count(*) FROM _alloc_current")
    assigned_before = cursor.fetchone()[0]
    cursor.execute("SELECT source, count(*) FROM _alloc_result GROUP BY source")
    by_source = dict(cursor.fetchall())
    assigned = sum(by_source.values())
    summary = {
        "accounts_in_scope": in_scope, "assigned_before": assigned_before, "assigned": assigned,
        "unassigned": in_scope - assigned,
        "unchanged": unchanged, "moved": moved, "newly_assigned": newly_assigned,
        "newly_unassigned": newly_unassigned, "changed": moved + newly_assigned + newly_unassigned,
        "by_source": by_source, "moves": moves[:200], "warnings": plan.warnings,
    }
    if with_samples:
        cursor.execute(
            f"""
            SELECT a.id, a.external_id, a.name FROM accounts_account a
            WHERE NOT EXISTS (SELECT 1 FROM _alloc_result r WHERE r.account_id = a.id) {scope_sql}
            ORDER BY a.external_id LIMIT %s
            """,
            [SAMPLE_LIMIT],
        )
        summary["unassigned_accounts"] = [
            {"account_id": pk, "external_id": external_id, "name": name} for pk, external_id, name in cursor.fetchall()
        ]
    return summary


def _write(cursor, plan: _Plan, *, run_id: int, now: dt.datetime, scope_sql: str, had_current: bool) -> dict:
    """Close the assignments that change and insert the new ones; unchanged ones are left alone."""
    current_scope = scope_sql.replace("a.id", "c.account_id")
    cursor.execute(
        f"""
        UPDATE accounts_accountassignment c SET valid_to = %s
        WHERE c.scenario_id = %s AND c.valid_to IS NULL {current_scope}
          AND NOT EXISTS (
            SELECT 1 FROM _alloc_result r
            WHERE r.account_id = c.account_id AND r.territory_id = c.territory_id AND r.source = c.source
              AND r.rule_id IS NOT DISTINCT FROM c.rule_id AND r.override_id IS NOT DISTINCT FROM c.override_id)
        """,
        [now, plan.scenario_id],
    )
    closed = cursor.rowcount
    # Only the rows still current after the UPDATE are unchanged; with none (a first run), skip the anti-join.
    unchanged_filter = ""
    if had_current:
        unchanged_filter = """
        WHERE NOT EXISTS (
            SELECT 1 FROM accounts_accountassignment c
            WHERE c.scenario_id = %(scenario)s AND c.valid_to IS NULL AND c.account_id = r.account_id
              AND c.territory_id = r.territory_id)"""
    cursor.execute(
        f"""
        INSERT INTO accounts_accountassignment
            (scenario_id, account_id, territory_id, valid_from, valid_to, source, rule_id, override_id, run_id, reason)
        SELECT %(scenario)s, r.account_id, r.territory_id, %(now)s, NULL, r.source, r.rule_id, r.override_id,
               %(run)s, r.reason
        FROM _alloc_result r {unchanged_filter}
        """,
        {"scenario": plan.scenario_id, "now": now, "run": run_id},
    )
    return {"closed": closed, "inserted": cursor.rowcount}


def _scope(cursor, scenario: Scenario, *, account_ids, territory_ids, progress: Progress) -> str:
    """Limit an incremental run to some accounts; returns the SQL filter on alias `a` (empty for a full run)."""
    if account_ids is None and territory_ids is None:
        return ""
    cursor.execute("CREATE TEMP TABLE _alloc_scope (account_id bigint PRIMARY KEY) ON COMMIT DROP")
    if account_ids is not None:
        cursor.execute("INSERT INTO _alloc_scope SELECT DISTINCT unnest(%s::bigint[])", [list(account_ids)])
    if territory_ids is not None:
        # Accounts now in the changed territories, plus those the changed territories would now take.
        partial = allocation_plan(scenario=scenario, territory_ids=territory_ids)
        changed_ids = sorted(set(territory_ids) | partial.leaf_ids)
        _create_work_tables(cursor, partial)
        _collect_candidates(cursor, partial, scope_sql="", progress=progress)
        cursor.execute(
            """
            INSERT INTO _alloc_scope
            SELECT account_id FROM _alloc_candidate
            UNION
            SELECT account_id FROM accounts_accountassignment
            WHERE scenario_id = %s AND valid_to IS NULL AND territory_id = ANY(%s)
            ON CONFLICT DO NOTHING
            """,
            [scenario.pk, changed_ids],
        )
        cursor.execute("DROP TABLE _alloc_candidate; DROP TABLE _alloc_target_rule")
    cursor.execute("ANALYZE _alloc_scope")
    return "AND a.id IN (SELECT account_id FROM _alloc_scope)"


_WORK_TABLES = ("_alloc_target_rule", "_alloc_candidate", "_alloc_result", "_alloc_multi", "_alloc_current",
                "_alloc_scope")


def _enlarge_temp_buffers(cursor) -> None:
    """Give temporary tables room in memory (8 MB by default); PostgreSQL only allows it before a session's
    first temporary table, so later calls on a reused connection quietly keep what the session has."""
    try:
        with transaction.atomic():
            cursor.execute("SET temp_buffers = '256MB'")
    except DatabaseError:
        pass


def _drop_work_tables(cursor) -> None:
    """Temporary tables live until the outermost commit; drop them so a second run in one transaction works."""
    cursor.execute(f"DROP TABLE IF EXISTS {', '.join(_WORK_TABLES)}")


def allocation_execute(
    *, scenario: Scenario, dry_run: bool, account_ids: Iterable[int] | None = None,
    territory_ids: Iterable[int] | None = None, created_by=None, job=None, progress: Progress = None,
) -> AllocationRun:
    """Allocate a scenario's accounts (all, or those given, or those touched by the given territories).

    A dry run computes the same outcome and rolls everything back; both store an AllocationRun with the summary.
    """
    if scenario.status == Scenario.Status.ARCHIVED:
        raise ValidationError(
            f'Scenario "{scenario.name}" is archived; clone it into a planning scenario to allocate accounts.'
        )
    account_ids = list(account_ids) if account_ids is not None else None
    territory_ids = list(territory_ids) if territory_ids is not None else None
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def lap(name: str) -> None:
        timings[name] = round(time.perf_counter() - started - sum(timings.values()), 4)

    run = None
    with transaction.atomic():
        Scenario.objects.select_for_update().filter(pk=scenario.pk).first()  # one run per scenario at a time
        now = timezone.now()
        if not dry_run:
            run = AllocationRun.objects.create(scenario=scenario, job=job, created_by=created_by, is_preview=False)
        with connection.cursor() as cursor:
            # JIT compilation costs more than it saves on these short, wide statements.
            _enlarge_temp_buffers(cursor)
            cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '256MB'")
            _drop_work_tables(cursor)
            scope_sql = _scope(cursor, scenario, account_ids=account_ids, territory_ids=territory_ids,
                               progress=progress)
            plan = allocation_plan(scenario=scenario)
            lap("plan")
            _create_work_tables(cursor, plan)
            _collect_candidates(cursor, plan, scope_sql=scope_sql, progress=progress)
            lap("match")
            if progress:
                progress(55, "Resolving ties and overrides")
            _resolve(cursor, plan, scope_sql=scope_sql)
            multi_count, multi_listed = _multi_matches(cursor, plan, limit=SAMPLE_LIMIT)
            lap("resolve")
            if progress:
                progress(70, "Comparing with the assignments in force")
            summary = _summarise(cursor, plan, scope_sql=scope_sql, with_samples=dry_run)
            summary["multi_matches"] = multi_count
            summary["multi_match_accounts"] = multi_listed
            lap("summarise")
            if dry_run:
                transaction.set_rollback(True)
            else:
                if progress:
                    progress(80, "Writing assignments")
                summary.update(_write(cursor, plan, run_id=run.pk, now=now, scope_sql=scope_sql,
                                      had_current=summary["assigned_before"] > 0))
                lap("write")
                _drop_work_tables(cursor)
    summary.update({
        "scenario_id": scenario.pk, "dry_run": dry_run, "incremental": scope_sql != "",
        "account_ids": account_ids[:SAMPLE_LIMIT] if account_ids else None, "territory_ids": territory_ids,
        "timings": timings, "seconds": round(time.perf_counter() - started, 3),
    })
    if dry_run:
        run = AllocationRun.objects.create(scenario=scenario, job=job, created_by=created_by, is_preview=True)
    run.summary = summary
    run.finished_at = timezone.now()
    run.save(update_fields=["summary", "finished_at"])
    logger.info("allocation of scenario %s (dry_run=%s) took %.2f s", scenario.pk, dry_run, summary["seconds"])
    return run


def allocation_preview(*, scenario: Scenario, **options) -> AllocationRun:
    """What a run would change, computed in full and rolled back."""
    return allocation_execute(scenario=scenario, dry_run=True, **options)


def allocation_run(*, scenario: Scenario, **options) -> AllocationRun:
    """Allocate and write: changed assignments are closed (valid_to = now) and new ones inserted with why."""
    return allocation_execute(scenario=scenario, dry_run=False, **options)


def allocation_reason(assignment: AccountAssignment) -> str:
    """Why an assignment exists, in words, for pages and exports."""
    source = assignment.get_source_display()
    if assignment.source == AccountAssignment.Source.RULE and assignment.rule_id:
        text = f"{source}: {assignment.rule.name}" if assignment.rule else source
    elif assignment.source == AccountAssignment.Source.OVERRIDE:
        text = f"{source}: {assignment.reason}" if assignment.reason else source
    else:
        text = source
    if assignment.reason and assignment.source != AccountAssignment.Source.OVERRIDE:
        text = f"{text} ({assignment.reason})"
    return text
