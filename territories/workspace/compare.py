"""Differences between two scenarios: accounts and revenue that change territory, and that change rep.

A stop-gap for the workspace until the scenario compare service of the scenarios pages lands; territories
are matched across scenarios by code (a clone keeps its codes), reps by the territory owner in force today.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.utils import timezone

from territories.models import Scenario

_MOVES = """
WITH base AS (
    SELECT DISTINCT ON (asg.account_id) asg.account_id, t.id AS territory_id, t.code, t.name
    FROM accounts_accountassignment asg JOIN territories_territory t ON t.id = asg.territory_id
    WHERE asg.scenario_id = %(base)s AND asg.valid_to IS NULL
    ORDER BY asg.account_id, t.depth DESC, asg.valid_from DESC
), other AS (
    SELECT DISTINCT ON (asg.account_id) asg.account_id, t.id AS territory_id, t.code, t.name
    FROM accounts_accountassignment asg JOIN territories_territory t ON t.id = asg.territory_id
    WHERE asg.scenario_id = %(other)s AND asg.valid_to IS NULL
    ORDER BY asg.account_id, t.depth DESC, asg.valid_from DESC
), owners AS (
    SELECT DISTINCT ON (ra.territory_id) ra.territory_id, ra.rep_id
    FROM reps_repassignment ra
    WHERE ra.role = 'owner' AND ra.valid_from <= %(on)s AND (ra.valid_to IS NULL OR ra.valid_to >= %(on)s)
    ORDER BY ra.territory_id, ra.valid_from DESC
), pairs AS (
    SELECT coalesce(base.account_id, other.account_id) AS account_id,
           base.code AS base_code, base.name AS base_name, other.code AS other_code, other.name AS other_name,
           base_owner.rep_id AS base_rep, other_owner.rep_id AS other_rep
    FROM base FULL JOIN other ON other.account_id = base.account_id
    LEFT JOIN owners base_owner ON base_owner.territory_id = base.territory_id
    LEFT JOIN owners other_owner ON other_owner.territory_id = other.territory_id
), changed AS (
    SELECT p.*, a.annual_revenue AS revenue FROM pairs p JOIN accounts_account a ON a.id = p.account_id
    WHERE p.base_code IS DISTINCT FROM p.other_code OR p.base_rep IS DISTINCT FROM p.other_rep
)
"""

_BY_TERRITORY = _MOVES + """
SELECT code, max(name), sum(gained), sum(lost), sum(revenue_gained), sum(revenue_lost) FROM (
    SELECT other_code AS code, other_name AS name, 1 AS gained, 0 AS lost, revenue AS revenue_gained,
           0 AS revenue_lost
    FROM changed WHERE other_code IS NOT NULL AND base_code IS DISTINCT FROM other_code
    UNION ALL
    SELECT base_code, base_name, 0, 1, 0, revenue
    FROM changed WHERE base_code IS NOT NULL AND base_code IS DISTINCT FROM other_code
) moves GROUP BY code ORDER BY code
"""

_BY_REP = _MOVES + """
SELECT rep_id, r.name, sum(gained), sum(lost), sum(revenue_gained), sum(revenue_lost) FROM (
    SELECT other_rep AS rep_id, 1 AS gained, 0 AS lost, revenue AS revenue_gained, 0 AS revenue_lost
    FROM changed WHERE base_rep IS DISTINCT FROM other_rep AND other_rep IS NOT NULL
    UNION ALL
    SELECT base_rep, 0, 1, 0, revenue FROM changed WHERE base_rep IS DISTINCT FROM other_rep AND base_rep IS NOT NULL
) moves LEFT JOIN reps_rep r ON r.id = moves.rep_id GROUP BY rep_id, r.name ORDER BY r.name
"""

_TOTALS = _MOVES + """
SELECT count(*) FILTER (WHERE base_code IS DISTINCT FROM other_code),
       coalesce(sum(revenue) FILTER (WHERE base_code IS DISTINCT FROM other_code), 0),
       count(*) FILTER (WHERE base_rep IS DISTINCT FROM other_rep),
       coalesce(sum(revenue) FILTER (WHERE base_rep IS DISTINCT FROM other_rep), 0)
FROM changed
"""


def _rows(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def scenario_difference(*, base: Scenario, other: Scenario, on: dt.date | None = None) -> dict:
    """Accounts and revenue gained and lost per territory (by code) and per rep going from `base` to `other`."""
    params = {"base": base.pk, "other": other.pk, "on": on or timezone.localdate()}
    (accounts_moved, revenue_moved, accounts_rep_changed, revenue_rep_changed), = _rows(_TOTALS, params)
    return {
        "base": {"id": base.pk, "name": base.name, "status": base.status},
        "other": {"id": other.pk, "name": other.name, "status": other.status},
        "totals": {"accounts_moved": accounts_moved, "revenue_moved": float(revenue_moved),
                   "accounts_changing_rep": accounts_rep_changed, "revenue_changing_rep": float(revenue_rep_changed)},
        "territories": [
            {"code": code, "name": name, "accounts_gained": gained, "accounts_lost": lost,
             "revenue_gained": float(revenue_gained), "revenue_lost": float(revenue_lost),
             "net_revenue": float(revenue_gained - revenue_lost)}
            for code, name, gained, lost, revenue_gained, revenue_lost in _rows(_BY_TERRITORY, params)
        ],
        "reps": [
            {"id": rep_id, "name": name or "Vacant", "accounts_gained": gained, "accounts_lost": lost,
             "revenue_gained": float(revenue_gained), "revenue_lost": float(revenue_lost),
             "net_revenue": float(revenue_gained - revenue_lost)}
            for rep_id, name, gained, lost, revenue_gained, revenue_lost in _rows(_BY_REP, params)
        ],
    }
