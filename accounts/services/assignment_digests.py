"""Per-territory fingerprints of the assignments in force (accounts.models.TerritoryAssignmentDigest).

The triggers of migration accounts 0008 append a row per territory each write statement changes; a territory's
fingerprint is the sum of its rows' counts and the XOR of their digests. Appending takes no lock another writer
waits for; full allocations fold the rows as they read them, and incremental ones once they have grown.
"""

_FOLD_SQL = """
WITH folded AS (
    DELETE FROM accounts_territoryassignmentdigest WHERE scenario_id = %(scenario)s
    RETURNING territory_id, rows, digest
)
INSERT INTO accounts_territoryassignmentdigest (territory_id, scenario_id, rows, digest)
SELECT territory_id, %(scenario)s, sum(rows), bit_xor(digest) FROM folded
GROUP BY territory_id
HAVING sum(rows) <> 0 OR bit_xor(digest) <> 0
RETURNING territory_id, rows, digest
"""

# More rows than this many per territory (plus some slack) are worth folding outside a full run.
FOLD_AFTER_ROWS_PER_TERRITORY = 2
FOLD_SLACK_ROWS = 100

_REBUILD_SQL = """
INSERT INTO accounts_territoryassignmentdigest (territory_id, scenario_id, rows, digest)
SELECT territory_id, %(scenario)s, count(*), bit_xor(accounts_assignment_key_hash(
    account_id, accounts_assignment_source_code(source, rule_id, override_id), rule_id, override_id))
FROM accounts_accountassignment WHERE scenario_id = %(scenario)s AND valid_to IS NULL
GROUP BY territory_id
"""


def assignment_digests_read(cursor, *, scenario_id: int) -> dict[int, tuple[int, int]]:
    """territory id -> (assignments in force, digest) for a scenario's territories with any in force. Folds the
    scenario's rows into one per territory on the way (rows other transactions append meanwhile stay beside them)."""
    cursor.execute(_FOLD_SQL, {"scenario": scenario_id})
    return {territory: (rows, digest) for territory, rows, digest in cursor.fetchall()}


def assignment_digests_fold_if_grown(cursor, *, scenario_id: int) -> bool:
    """Fold a scenario's rows when writes have appended well over one per territory since the last fold (called by
    incremental allocation runs and moves on the map, which hold the scenario lock as full runs do, so edits
    between full runs do not grow the table without bound). Returns whether it folded."""
    cursor.execute(
        "SELECT count(*), count(DISTINCT territory_id) FROM accounts_territoryassignmentdigest WHERE scenario_id = %s",
        [scenario_id],
    )
    rows, territories = cursor.fetchone()
    if rows <= FOLD_AFTER_ROWS_PER_TERRITORY * territories + FOLD_SLACK_ROWS:
        return False
    assignment_digests_read(cursor, scenario_id=scenario_id)
    return True


def assignment_digests_rebuild(cursor, *, scenario_id: int) -> None:
    """Recompute a scenario's digests from its assignments in force (for writes that bypass the triggers)."""
    cursor.execute("DELETE FROM accounts_territoryassignmentdigest WHERE scenario_id = %s", [scenario_id])
    cursor.execute(_REBUILD_SQL, {"scenario": scenario_id})
