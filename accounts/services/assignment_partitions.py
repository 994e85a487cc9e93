"""Bulk writes of assignments into a scenario's own partition (see migration accounts 0006).

A million-row INSERT into an indexed table spends most of its time on random btree inserts (territory-keyed
indexes when rows arrive in account order). When a scenario has no assignments in force and a write brings many,
the rows go into a plain table first, which is then indexed in bulk (sorted builds) and attached as the scenario's
partition; the rows the scenario already had (history) move with it. Readers of other scenarios are not blocked
while that happens: only the final swap takes locks, for a moment, and if it cannot have them within
SWAP_LOCK_TIMEOUT (or a concurrent write put a row of the scenario in the default partition meanwhile) the rows go
in through the ordinary path instead, so a write is never lost, only slower. Rows that arrive this way bypass the
triggers keeping the per-territory digests (accounts.models.TerritoryAssignmentDigest), so the swap rebuilds the
scenario's digests from its new partition.
"""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.db import DatabaseError, transaction

from accounts.services.assignment_digests import assignment_digests_rebuild

logger = logging.getLogger(__name__)

PARENT = "accounts_accountassignment"
DEFAULT_PARTITION = f"{PARENT}_default"
# The column order of the INSERT callers' SELECTs produce.
INSERT_COLUMNS = (
    "scenario_id, account_id, territory_id, valid_from, valid_to, source, rule_id, override_id, run_id, reason"
)
# While the swap waits for a lock, readers arriving after it queue behind it: the wait is kept short, and a swap
# that cannot have its locks in time falls back to the ordinary path.
SWAP_LOCK_TIMEOUT = "2s"


def own_partition_name(scenario_id: int) -> str:
    return f"{PARENT}_s{int(scenario_id)}"


def own_partition_min_rows() -> int:
    """Below this many rows the ordinary INSERT is as quick as building a table and its indexes."""
    return getattr(settings, "ASSIGNMENT_OWN_PARTITION_MIN_ROWS", 50_000)


def assignment_partition_of(cursor, scenario_id: int) -> str:
    """The partition holding a scenario's rows: its own, or the default one."""
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [own_partition_name(scenario_id)])
    return own_partition_name(scenario_id) if cursor.fetchone()[0] else DEFAULT_PARTITION


def assignments_insert(
    cursor, *, scenario_id: int, select_sql: str, params, rows_expected: int, order_by: str = ""
) -> int:
    """INSERT INTO accounts_accountassignment (INSERT_COLUMNS) <select_sql> [ORDER BY order_by]; returns the
    number of rows written.

    The caller says how many rows it expects and guarantees that the scenario has no assignments in force when it
    expects many (a first allocation, a clone): those writes build the scenario's own partition. `order_by` (rows in
    account order fill account-keyed indexes sequentially) applies to the ordinary path; index builds sort anyway.
    """
    if rows_expected < own_partition_min_rows():
        order = f" ORDER BY {order_by}" if order_by else ""
        cursor.execute(f"INSERT INTO {PARENT} ({INSERT_COLUMNS}) {select_sql}{order}", params)
        return cursor.rowcount
    return _insert_into_own_partition(cursor, scenario_id=int(scenario_id), select_sql=select_sql, params=params)


def _insert_into_own_partition(cursor, *, scenario_id: int, select_sql: str, params) -> int:
    own = own_partition_name(scenario_id)
    staging = f"{own}_new"
    cursor.execute(f"DROP TABLE IF EXISTS {staging}")
    cursor.execute(f"CREATE TABLE {staging} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    # The partition bound as a constraint, so attaching does not scan the rows to prove it.
    cursor.execute(f"ALTER TABLE {staging} ADD CONSTRAINT {staging}_scenario CHECK (scenario_id = {scenario_id})")
    # The parent's identity sequence, named once: looked up inside the default it would cost 5 µs a row.
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [PARENT])
    cursor.execute(f"ALTER TABLE {staging} ALTER COLUMN id SET DEFAULT nextval(%s::regclass)", [cursor.fetchone()[0]])
    cursor.execute(f"INSERT INTO {staging} ({INSERT_COLUMNS}) {select_sql}", params)
    written = cursor.rowcount
    cursor.execute(f"ALTER TABLE {staging} ALTER COLUMN id DROP DEFAULT")
    cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for statement in _index_statements(cursor, staging, scenario_id):
        cursor.execute(statement)
    try:
        with transaction.atomic():  # a savepoint: a failed swap leaves the staging table as it was
            cursor.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
            _swap_in(cursor, scenario_id=scenario_id, own=own, staging=staging)
            cursor.execute("SET LOCAL lock_timeout = DEFAULT")
    except DatabaseError as error:
        logger.warning("assignments of scenario %s go in through the shared partition: %s", scenario_id, error)
        cursor.execute(f"INSERT INTO {PARENT} SELECT * FROM {staging}")
        cursor.execute(f"DROP TABLE {staging}")
    else:
        cursor.execute(f"ANALYZE {own}")  # the planner's figures for the new partition, before anyone reads it
        assignment_digests_rebuild(cursor, scenario_id=scenario_id)
    return written


def _swap_in(cursor, *, scenario_id: int, own: str, staging: str) -> None:
    """Move the scenario's existing rows into the staging table and attach it as the scenario's partition."""
    if assignment_partition_of(cursor, scenario_id) == own:
        cursor.execute(f"LOCK TABLE {own} IN EXCLUSIVE MODE")  # readers go on; writers wait for the swap
        cursor.execute(f"INSERT INTO {staging} SELECT * FROM {own}")
        cursor.execute(f"ALTER TABLE {PARENT} DETACH PARTITION {own}")
        cursor.execute(f"DROP TABLE {own}")
    else:
        cursor.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE scenario_id = %s RETURNING *) "
            f"INSERT INTO {staging} SELECT * FROM moved",
            [scenario_id],
        )
    cursor.execute(f"ALTER TABLE {PARENT} ATTACH PARTITION {staging} FOR VALUES IN ({scenario_id})")
    cursor.execute(f"ALTER TABLE {staging} RENAME TO {own}")


def _index_statements(cursor, table: str, scenario_id: int) -> list[str]:
    """Statements giving `table` a copy of each index of the parent, so attaching adopts them. The names carry a
    random token: the partition being replaced still holds the names of its own until the swap."""
    cursor.execute(
        "SELECT pg_get_indexdef(i.indexrelid), i.indisprimary FROM pg_index i WHERE i.indrelid = %s::regclass "
        "ORDER BY i.indexrelid",
        [PARENT],
    )
    token = secrets.token_hex(3)
    statements = []
    for number, (definition, is_primary) in enumerate(cursor.fetchall()):
        name = f"assignment_s{scenario_id}_{token}_{number}"
        # "CREATE [UNIQUE] INDEX x ON ONLY public.accounts_accountassignment USING btree (...) [WHERE ...]"
        method_and_columns = definition.split(" USING ", 1)[1]
        if is_primary:
            columns = method_and_columns[method_and_columns.index("(") :]
            statements.append(f"ALTER TABLE {table} ADD CONSTRAINT {name} PRIMARY KEY {columns}")
        else:
            unique = "UNIQUE " if definition.startswith("CREATE UNIQUE") else ""
            statements.append(f"CREATE {unique}INDEX {name} ON {table} USING {method_and_columns}")
    return statements
