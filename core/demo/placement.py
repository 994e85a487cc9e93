"""Set-based placement of demo accounts into the leaf territories that contain them."""

import datetime as dt

from django.db import connection

from accounts.models import Account, AccountAssignment
from territories.models import Scenario, Territory


def demo_accounts_assign_by_geography(*, scenario: Scenario, territory_type_id: int, valid_from: dt.datetime) -> int:
    """Give every account without a current assignment of the geography type one to the leaf that covers it.

    Interim, demo-only placement: the allocation service being written in `accounts/services` (rules,
    overrides, previews, effective dating) will replace this function. It runs as one INSERT ... SELECT:
    leaf boundaries are cut into small pieces (ST_Subdivide) so every piece probes the GiST index on
    account locations and the point-in-polygon test stays cheap; an account on the border of two leaves
    goes to the one with the lower id. Accounts that no leaf covers (a point a hair off the coast) go
    to the nearest leaf in a second statement. Both CTEs are MATERIALIZED as optimisation fences: the
    spatial join must stay a nested loop of pieces probing the index, whatever stale statistics say about
    the assignments table. Returns the number of assignments created.
    """
    params = {"scenario": scenario.pk, "type": territory_type_id, "valid_from": valid_from}
    leaf_filter = f"""
        t.scenario_id = %(scenario)s AND t.territory_type_id = %(type)s AND t.boundary IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM {Territory._meta.db_table} c WHERE c.parent_id = t.id)
    """
    unassigned = f"""
        a.location IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM {AccountAssignment._meta.db_table} x
            JOIN {Territory._meta.db_table} xt ON xt.id = x.territory_id
            WHERE x.account_id = a.id AND x.scenario_id = %(scenario)s AND x.valid_to IS NULL
              AND xt.territory_type_id = %(type)s
        )
    """
    columns = "scenario_id, account_id, territory_id, valid_from, valid_to, source, reason"
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")  # compiling these plans costs more than it saves
        cursor.execute(f"ANALYZE {Account._meta.db_table}")
        cursor.execute(f"ANALYZE {Territory._meta.db_table}")
        cursor.execute(
            f"""
            WITH pieces AS MATERIALIZED (
                SELECT t.id AS territory_id, ST_Subdivide(t.boundary, 1024) AS geometry
                FROM {Territory._meta.db_table} t
                WHERE {leaf_filter}
            ),
            covered AS MATERIALIZED (
                SELECT DISTINCT ON (a.id) a.id AS account_id, p.territory_id
                FROM pieces p
                JOIN {Account._meta.db_table} a ON ST_Covers(p.geometry, a.location)
                ORDER BY a.id, p.territory_id
            )
            INSERT INTO {AccountAssignment._meta.db_table} ({columns})
            SELECT %(scenario)s, a.id, covered.territory_id, %(valid_from)s, NULL, 'geography',
                   'Inside the territory boundary'
            FROM covered
            JOIN {Account._meta.db_table} a ON a.id = covered.account_id
            WHERE {unassigned}
            """,
            params,
        )
        created = cursor.rowcount
        cursor.execute(
            f"""
            WITH stray AS MATERIALIZED (
                -- Only the few points no boundary covers (coasts, rounding) need the nearest-territory search.
                SELECT a.id, a.location FROM {Account._meta.db_table} a WHERE {unassigned}
            )
            INSERT INTO {AccountAssignment._meta.db_table} ({columns})
            SELECT %(scenario)s, a.id, nearest.id, %(valid_from)s, NULL, 'geography', 'Nearest territory'
            FROM stray a
            CROSS JOIN LATERAL (
                SELECT t.id FROM {Territory._meta.db_table} t
                WHERE {leaf_filter}
                ORDER BY t.boundary <-> a.location, t.id
                LIMIT 1
            ) nearest
            """,
            params,
        )
        created += cursor.rowcount
    return created
