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
Everything is set-based SQL over temporary tables, in one transaction (a preview rolls it back):
- one spatial join with the polygon on the outer side (PostGIS prepares each polygon once and walks the
  accounts' GiST index), with each rule's field tests evaluated only for the accounts inside its boundary;
- field-only rules: those testing text fields for equality become a lookup table hash-joined with the accounts;
  the rest are compiled into one CASE array evaluated in a single scan;
- one pass over the candidates counts them per territory; when they are as many as the accounts in scope and
  their account ids hash (XOR) to the accounts' own, every account has exactly one; otherwise one sort of their
  account ids says which have several. Only those are ranked, and their losing candidates are deleted in place,
  so the candidates become the result without a copy;
- one hash join against the assignments in force finds what to close and what to open; one UPDATE and one
  INSERT ... SELECT write exactly that (nothing, when nothing changed). A full run first compares each
  territory's digest of its result with the digest the triggers keep of its assignments in force
  (accounts.services.assignment_digests) and joins only the territories that differ: after one boundary change,
  two.
Modules: allocation_plan (hierarchy and rules to targets), allocation_matching (candidates, winners), this one.
"""

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import AccountAssignment, AllocationRun
from accounts.services.allocation_matching import (
    _collect_candidates,
    _create_work_tables,
    _multi_matches,
    _resolve,
    _Tallies,
    _tallies,
    source_sql,
)
from accounts.services.allocation_plan import NO_PRIORITY, _Plan, allocation_plan
from accounts.services.assignment_digests import assignment_digests_fold_if_grown, assignment_digests_read
from accounts.services.assignment_partitions import assignments_insert
from territories.models import Scenario

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], None] | None
SAMPLE_LIMIT = 100  # accounts listed per category in a preview
# A full run joins only the territories whose digests differ, unless more than this share of them do.
DIGEST_FILTER_MAX_SHARE = 0.5
__all__ = [
    "NO_PRIORITY",
    "allocation_execute",
    "allocation_plan",
    "allocation_preview",
    "allocation_queue_for_territories",
    "allocation_reason",
    "allocation_run",
]


_DIFF_SQL = f"""
CREATE TEMP TABLE _alloc_diff ON COMMIT DROP AS
SELECT cur.id AS current_id, cur.account_id AS current_account_id, cur.territory_id AS current_territory_id,
       res.account_id, res.territory_id, {source_sql("res")} AS source, res.rule_id, res.override_id, res.reason
FROM (SELECT * FROM _alloc_result r WHERE TRUE {{result_territories}}) res
FULL JOIN (
    SELECT c.id, c.account_id, c.territory_id, c.source, c.rule_id, c.override_id
    FROM accounts_accountassignment c
    WHERE c.scenario_id = %s AND c.valid_to IS NULL {{current_scope}} {{current_territories}}
) cur
  ON cur.account_id = res.account_id AND cur.territory_id = res.territory_id AND cur.source = {source_sql("res")}
 AND coalesce(cur.rule_id, 0) = coalesce(res.rule_id, 0) AND coalesce(cur.override_id, 0) = coalesce(res.override_id, 0)
WHERE cur.id IS NULL OR res.account_id IS NULL
"""

_MOVES_SQL = """
SELECT closing.territory_id, opening.territory_id, count(*)
FROM (SELECT current_account_id AS account_id, min(current_territory_id) AS territory_id
      FROM _alloc_diff WHERE current_id IS NOT NULL GROUP BY current_account_id) closing
FULL JOIN (SELECT account_id, territory_id FROM _alloc_diff WHERE current_id IS NULL) opening
  ON opening.account_id = closing.account_id
GROUP BY 1, 2
"""


def _territories_changed(cursor, scenario_id: int, per_territory: list[tuple]) -> list[int] | None:
    """The territories whose assignments in force differ from the result (by count or digest), or None when so
    many differ that joining everything is as quick. Elsewhere result and assignments in force are the same rows,
    so the diff, which matches rows within a territory, finds nothing there."""
    in_force = assignment_digests_read(cursor, scenario_id=scenario_id)
    result = {row[0]: (row[1], row[4]) for row in per_territory}
    changed = sorted(pk for pk in in_force.keys() | result.keys() if in_force.get(pk) != result.get(pk))
    if len(changed) > DIGEST_FILTER_MAX_SHARE * max(len(in_force), len(result)):
        return None
    return changed


def _summarise(cursor, plan: _Plan, *, scope_sql: str, with_samples: bool, tallies: _Tallies | None) -> dict:
    """What the run changes against the assignments in force, before anything is written. The differing rows
    (assignments to close, assignments to open) are found in one hash join with the assignments in force (in a full
    run, of the territories whose digests differ) and kept for the write; with none in force (a first run) there
    is nothing to join."""
    current_scope = scope_sql.replace("a.id", "c.account_id")
    cursor.execute(
        f"SELECT EXISTS (SELECT 1 FROM accounts_accountassignment c"
        f" WHERE c.scenario_id = %s AND c.valid_to IS NULL {current_scope})",
        [plan.scenario_id],
    )
    had_current = cursor.fetchone()[0]
    # Counts per territory and source (assigned, by source, and a first run's moves) and each territory's digest,
    # from the resolve step's pass over the result unless ranking deleted rows since.
    tallies = tallies or _tallies(cursor, scope_sql=scope_sql)
    per_territory = tallies.per_territory
    assigned = tallies.assigned
    by_source = {"rule": sum(row[2] for row in per_territory), "override": sum(row[3] for row in per_territory)}
    by_source["geography"] = assigned - by_source["rule"] - by_source["override"]
    by_source = {source: count for source, count in sorted(by_source.items()) if count}
    if had_current:
        territories = {"result_territories": "", "current_territories": ""}
        if not scope_sql:
            changed = _territories_changed(cursor, plan.scenario_id, per_territory)
            if changed is not None:
                listed = "ARRAY[" + ",".join(str(int(pk)) for pk in changed) + "]::bigint[]"
                territories = {  # with nothing changed, a constant false: the planner reads neither side
                    "result_territories": f"AND r.territory_id = ANY({listed})" if changed else "AND FALSE",
                    "current_territories": f"AND c.territory_id = ANY({listed})" if changed else "AND FALSE",
                }
        # The assignments in force are read once, straight into the join (not copied to a work table first).
        cursor.execute(_DIFF_SQL.format(current_scope=current_scope, **territories), [plan.scenario_id])
        cursor.execute(
            "SELECT count(*) FILTER (WHERE current_id IS NULL), count(*) FILTER (WHERE current_id IS NOT NULL)"
            " FROM _alloc_diff"
        )
        opening, closing = cursor.fetchone()
        cursor.execute(_MOVES_SQL)
        rows = cursor.fetchall()
        untouched = assigned - opening
        assigned_before = untouched + closing  # each assignment in force is either kept or closed
    else:  # a first run: everything is new, no join needed
        rows = [(None, row[0], row[1]) for row in per_territory]
        untouched = assigned_before = 0
    unchanged, moved, newly_assigned, newly_unassigned = untouched, 0, 0, 0
    moves = []
    for from_id, to_id, count in rows:
        if from_id == to_id:
            unchanged += count  # same territory, another reason (a different rule, say)
            continue
        if from_id is None:
            newly_assigned += count
        elif to_id is None:
            newly_unassigned += count
        else:
            moved += count
        moves.append(
            {
                "from": plan.codes.get(from_id) if from_id else None,
                "to": plan.codes.get(to_id) if to_id else None,
                "accounts": count,
            }
        )
    moves.sort(key=lambda move: (-move["accounts"], move["from"] or "", move["to"] or ""))
    in_scope = tallies.in_scope
    summary = {
        "accounts_in_scope": in_scope,
        "assigned_before": assigned_before,
        "assigned": assigned,
        "unassigned": in_scope - assigned,
        "unchanged": unchanged,
        "moved": moved,
        "newly_assigned": newly_assigned,
        "newly_unassigned": newly_unassigned,
        "changed": moved + newly_assigned + newly_unassigned,
        "by_source": by_source,
        "moves": moves[:200],
        "warnings": plan.warnings,
    }
    summary["unassigned_accounts"] = []
    if with_samples and summary["unassigned"] > 0:
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


def _write(
    cursor, plan: _Plan, *, run_id: int, now: dt.datetime, had_current: bool, whole_scenario: bool, assigned: int
) -> dict:
    """Close the assignments that change and insert the new ones (from the diff found by _summarise);
    unchanged ones are left alone. A full run into a scenario with nothing in force (`assigned` rows to write) may
    write the scenario's own partition (assignment_partitions)."""
    closed = 0
    rows_expected = 0
    source_table = (
        f"(SELECT account_id, territory_id, {source_sql('r')} AS source, rule_id, override_id, reason"
        " FROM _alloc_result r)"
    )
    if had_current:
        cursor.execute(
            "UPDATE accounts_accountassignment SET valid_to = %s "
            "WHERE id IN (SELECT current_id FROM _alloc_diff WHERE current_id IS NOT NULL)",
            [now],
        )
        closed = cursor.rowcount
        source_table = "(SELECT * FROM _alloc_diff WHERE current_id IS NULL)"
    elif whole_scenario:
        rows_expected = assigned
    inserted = assignments_insert(
        cursor,
        scenario_id=plan.scenario_id,
        select_sql=f"""
        SELECT %(scenario)s, r.account_id, r.territory_id, %(now)s, NULL, r.source, r.rule_id, r.override_id,
               %(run)s, r.reason
        FROM {source_table} r
        """,
        params={"scenario": plan.scenario_id, "now": now, "run": run_id},
        rows_expected=rows_expected,
        order_by="r.account_id",
    )
    return {"closed": closed, "inserted": inserted}


def _announce_reassigned(cursor, *, scenario: Scenario, run: AllocationRun, total: int, had_current: bool) -> None:
    """One account.reassigned event for the run (sent after commit), listing the first accounts that moved."""
    from accounts.services.events import ACCOUNTS_PER_EVENT, account_reassigned_emit
    from core.webhooks import webhook_is_subscribed

    if not webhook_is_subscribed("account.reassigned"):
        return
    if had_current:
        cursor.execute(
            """
            SELECT coalesce(opening.account_id, closing.account_id), closing.territory_id, opening.territory_id
            FROM (SELECT current_account_id AS account_id, min(current_territory_id) AS territory_id
                  FROM _alloc_diff WHERE current_id IS NOT NULL GROUP BY current_account_id) closing
            FULL JOIN (SELECT account_id, min(territory_id) AS territory_id FROM _alloc_diff
                       WHERE current_id IS NULL GROUP BY account_id) opening
              ON opening.account_id = closing.account_id
            WHERE closing.territory_id IS DISTINCT FROM opening.territory_id
            ORDER BY 1 LIMIT %s
            """,
            [ACCOUNTS_PER_EVENT],
        )
    else:
        cursor.execute(
            "SELECT account_id, NULL, territory_id FROM _alloc_result ORDER BY 1 LIMIT %s",  # one row per account
            [ACCOUNTS_PER_EVENT],
        )
    account_reassigned_emit(
        scenario_id=scenario.pk,
        source="allocation",
        moves=cursor.fetchall(),
        total=total,
        run_id=run.pk,
        actor=run.created_by,
    )


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
        cursor.execute("DROP TABLE IF EXISTS _alloc_candidate, _alloc_target_rule, _alloc_rule_key")
    cursor.execute("ANALYZE _alloc_scope")
    return "AND a.id IN (SELECT account_id FROM _alloc_scope)"


_WORK_TABLES = (
    "_alloc_target_rule",
    "_alloc_rule_key",
    "_alloc_candidate",
    "_alloc_several",
    "_alloc_result",
    "_alloc_winner",
    "_alloc_multi",
    "_alloc_diff",
    "_alloc_scope",
)


def _drop_work_tables(cursor) -> None:
    """Temporary tables live until the outermost commit; drop them so a second run in one transaction works."""
    cursor.execute(f"DROP TABLE IF EXISTS {', '.join(_WORK_TABLES)}")


def allocation_execute(
    *,
    scenario: Scenario,
    dry_run: bool,
    account_ids: Iterable[int] | None = None,
    territory_ids: Iterable[int] | None = None,
    created_by=None,
    job=None,
    progress: Progress = None,
    trigger: str = "",
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
            cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '256MB'")
            _drop_work_tables(cursor)
            scope_sql = _scope(
                cursor, scenario, account_ids=account_ids, territory_ids=territory_ids, progress=progress
            )
            plan = allocation_plan(scenario=scenario)
            lap("plan")
            _create_work_tables(cursor, plan)
            _collect_candidates(cursor, plan, scope_sql=scope_sql, progress=progress)
            lap("match")
            if progress:
                progress(55, "Resolving ties and overrides")
            several, tallies = _resolve(cursor, plan, scope_sql=scope_sql)
            multi_count, multi_listed = _multi_matches(cursor, plan, several=several, limit=SAMPLE_LIMIT)
            lap("resolve")
            if progress:
                progress(70, "Comparing with the assignments in force")
            summary = _summarise(cursor, plan, scope_sql=scope_sql, with_samples=dry_run, tallies=tallies)
            summary["multi_matches"] = multi_count
            summary["multi_match_accounts"] = multi_listed
            lap("summarise")
            if dry_run:
                transaction.set_rollback(True)
            else:
                if progress:
                    progress(80, "Writing assignments")
                summary.update(
                    _write(
                        cursor,
                        plan,
                        run_id=run.pk,
                        now=now,
                        had_current=summary["assigned_before"] > 0,
                        whole_scenario=scope_sql == "",
                        assigned=summary["assigned"],
                    )
                )
                if summary["changed"]:
                    _announce_reassigned(
                        cursor,
                        scenario=scenario,
                        run=run,
                        total=summary["changed"],
                        had_current=summary["assigned_before"] > 0,
                    )
                if scope_sql:  # a full run folded the digests when it read them
                    assignment_digests_fold_if_grown(cursor, scenario_id=scenario.pk)
                lap("write")
                _drop_work_tables(cursor)
    summary.update(
        {
            "scenario_id": scenario.pk,
            "dry_run": dry_run,
            "incremental": scope_sql != "",
            "account_ids": account_ids[:SAMPLE_LIMIT] if account_ids else None,
            "territory_ids": territory_ids,
            "trigger": trigger,
            "timings": timings,
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
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
    run = allocation_execute(scenario=scenario, dry_run=False, **options)
    if run.summary.get("changed"):  # KPIs only need recomputing when someone's book changed
        from performance.services.kpis import kpi_refresh_after_allocation

        kpi_refresh_after_allocation(scenario=scenario, user=options.get("created_by"))
    return run


def allocation_queue_for_territories(
    *, scenario: Scenario, territory_ids: Iterable[int], trigger: str, created_by=None
):
    """Re-allocate what some territories' boundaries or rules may have moved: a territory-scoped incremental run,
    queued as a job once the surrounding transaction commits (so it sees the change). Nothing is queued while the
    scenario has no assignments yet (its first run is a full one, asked for explicitly) or when it is archived.
    Returns the job, or None."""
    from accounts.tasks import allocation_run_task
    from core.models import Job
    from core.services import job_create, job_enqueue

    territory_ids = sorted(set(territory_ids))
    if not territory_ids or scenario.status == Scenario.Status.ARCHIVED:
        return None
    if not AccountAssignment.objects.filter(scenario=scenario, valid_to__isnull=True).exists():
        return None
    job = job_create(
        kind=Job.Kind.ALLOCATION,
        params={"scenario": scenario.pk, "dry_run": False, "territory_ids": territory_ids, "trigger": trigger},
        created_by=created_by,
    )
    return job_enqueue(job=job, task=allocation_run_task, args=(scenario.pk, False, None, territory_ids, trigger))


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
