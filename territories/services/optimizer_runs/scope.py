"""What an optimiser run works on: the leaf territories, their units with geometry, and the measures per unit."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import shapely
from django.core.exceptions import ValidationError
from django.db import connection

from territories.models import Scenario, Territory, TerritoryType

MEASURES = ("accounts", "potential", "workload_hours", "annual_revenue")
MODES = ("design", "realign")
DEFAULT_BALANCE = {"potential": (1.0, 0.05)}
DEFAULT_TIME_LIMIT = 60.0  # seconds for the whole run, read to report
Progress = Callable[[float, str], None] | None


@dataclass
class OptimizerScope:
    """What one run works on: the leaf territories, their units (geo units or accounts) and the measures."""

    leaves: dict[int, Territory]  # territory id → leaf territory of the source scenario
    kind: str  # "geo_units" or "accounts"
    unit_ids: list[int] = field(default_factory=list)
    unit_territory: list[int] = field(default_factory=list)  # current leaf id per unit
    geometries: list = field(default_factory=list)
    measures: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in MEASURES})
    unit_accounts: list[list[int]] = field(default_factory=list)  # accounts placed in each unit
    named_accounts: int = 0  # accounts of named-account territories: placed with their unit, not counted
    named_potential: float = 0.0
    geometry_digest: str = ""  # of the units' geometries: the same digest, the same unit graph

    @property
    def locked_leaf_ids(self) -> set[int]:
        return {pk for pk, territory in self.leaves.items() if territory.is_locked}


def leaf_territories(*, scenario: Scenario, parent: Territory | None) -> dict[int, Territory]:
    """Leaves of the scenario (under `parent` when given), without named-account territories."""
    territories = list(Territory.objects.filter(scenario=scenario).select_related("territory_type").defer("boundary"))
    children: dict[int | None, list[Territory]] = {}
    for territory in territories:
        children.setdefault(territory.parent_id, []).append(territory)
    if parent is not None:
        if parent.scenario_id != scenario.pk:
            raise ValidationError(f"Territory {parent.code} is not part of “{scenario.name}”.")
        stack, below = [parent.pk], []
        while stack:
            for child in children.get(stack.pop(), []):
                below.append(child)
                stack.append(child.pk)
        territories = below
    return {
        t.pk: t
        for t in territories
        if t.pk not in children
        and not (t.territory_type is not None and t.territory_type.kind == TerritoryType.Kind.NAMED)
    }


# Accounts that a named-account territory of the scenario serves: their geography assignment moves with their unit,
# but they are not counted in the geographic territories' balance (the named-account team works them).
_NAMED_SQL = """
named AS (
    SELECT DISTINCT x.account_id FROM accounts_accountassignment x
    JOIN territories_territory t ON t.id = x.territory_id
    JOIN territories_territorytype tt ON tt.id = t.territory_type_id
    WHERE x.scenario_id = %(scenario)s AND x.valid_to IS NULL AND tt.kind = 'named'
)"""

# Units of the leaves with their geometry and the sums of the accounts currently assigned there. An account is
# placed in the unit that contains it, or (the few outside every unit) in the nearest unit of its territory. The sums
# are grouped by unit id before the geometry joins in (grouping by a geometry compares whole polygons).
_GEO_UNIT_SQL = (
    """
WITH scope_units AS (
    SELECT tu.unit_id, tu.territory_id FROM territories_territoryunit tu
    WHERE tu.scenario_id = %(scenario)s AND tu.territory_id = ANY(%(leaves)s)
),
scope_accounts AS (
    SELECT DISTINCT ON (x.account_id) x.account_id, x.territory_id
    FROM accounts_accountassignment x
    WHERE x.scenario_id = %(scenario)s AND x.valid_to IS NULL
      AND x.territory_id IN (SELECT territory_id FROM scope_units)
    ORDER BY x.account_id, x.territory_id
),
inside AS (
    SELECT DISTINCT ON (sa.account_id) sa.account_id, su.unit_id
    FROM scope_accounts sa
    JOIN accounts_account a ON a.id = sa.account_id
    JOIN territories_geounit g ON ST_Intersects(g.geometry, a.location)
    JOIN scope_units su ON su.unit_id = g.id
    ORDER BY sa.account_id, su.territory_id = sa.territory_id DESC, su.unit_id
),
placed AS (
    SELECT account_id, unit_id FROM inside
    UNION ALL
    SELECT sa.account_id, place.unit_id
    FROM scope_accounts sa
    JOIN accounts_account a ON a.id = sa.account_id AND a.location IS NOT NULL
    CROSS JOIN LATERAL (
        SELECT su.unit_id FROM scope_units su JOIN territories_geounit g ON g.id = su.unit_id
        WHERE su.territory_id = sa.territory_id ORDER BY g.geometry <-> a.location, su.unit_id LIMIT 1
    ) place
    WHERE NOT EXISTS (SELECT 1 FROM inside i WHERE i.account_id = sa.account_id)
),
"""
    + _NAMED_SQL
    + """,
sums AS (
    SELECT p.unit_id, count(*) FILTER (WHERE n.account_id IS NULL) AS accounts,
           coalesce(sum(a.potential) FILTER (WHERE n.account_id IS NULL), 0) AS potential,
           coalesce(sum(a.workload_hours) FILTER (WHERE n.account_id IS NULL), 0) AS workload_hours,
           coalesce(sum(a.annual_revenue) FILTER (WHERE n.account_id IS NULL), 0) AS annual_revenue,
           array_agg(a.id ORDER BY a.id) AS account_ids, count(n.account_id) AS named,
           coalesce(sum(a.potential) FILTER (WHERE n.account_id IS NOT NULL), 0) AS named_potential
    FROM placed p JOIN accounts_account a ON a.id = p.account_id LEFT JOIN named n ON n.account_id = p.account_id
    GROUP BY p.unit_id
)
SELECT su.unit_id, su.territory_id, ST_AsBinary(g.geometry), coalesce(s.accounts, 0), coalesce(s.potential, 0),
       coalesce(s.workload_hours, 0), coalesce(s.annual_revenue, 0), coalesce(s.account_ids, '{}'),
       coalesce(s.named, 0), coalesce(s.named_potential, 0)
FROM scope_units su
JOIN territories_geounit g ON g.id = su.unit_id
LEFT JOIN sums s ON s.unit_id = su.unit_id
ORDER BY su.unit_id
"""
)

# No geo units: each located account is a unit (the optimiser builds its proximity graph).
_ACCOUNT_UNIT_SQL = (
    "WITH "
    + _NAMED_SQL
    + """
SELECT DISTINCT ON (a.id) a.id, x.territory_id, ST_AsBinary(a.location),
       CASE WHEN n.account_id IS NULL THEN 1 ELSE 0 END,
       CASE WHEN n.account_id IS NULL THEN a.potential ELSE 0 END,
       CASE WHEN n.account_id IS NULL THEN a.workload_hours ELSE 0 END,
       CASE WHEN n.account_id IS NULL THEN a.annual_revenue ELSE 0 END, ARRAY[a.id],
       CASE WHEN n.account_id IS NULL THEN 0 ELSE 1 END, CASE WHEN n.account_id IS NULL THEN 0 ELSE a.potential END
FROM accounts_accountassignment x JOIN accounts_account a ON a.id = x.account_id
LEFT JOIN named n ON n.account_id = a.id
WHERE x.scenario_id = %(scenario)s AND x.valid_to IS NULL AND x.territory_id = ANY(%(leaves)s)
  AND a.location IS NOT NULL
ORDER BY a.id, x.territory_id
"""
)


def optimizer_scope(*, scenario: Scenario, parent: Territory | None = None) -> OptimizerScope:
    """The leaves, units and per-unit measures of a scenario (one SQL statement for units and sums)."""
    leaves = leaf_territories(scenario=scenario, parent=parent)
    if not leaves:
        raise ValidationError(f"“{scenario.name}” has no leaf territories to optimise.")
    params = {"scenario": scenario.pk, "leaves": list(leaves)}
    with connection.cursor() as cursor:
        cursor.execute(_GEO_UNIT_SQL, params)
        rows = cursor.fetchall()
        kind = "geo_units"
        if not rows:
            cursor.execute(_ACCOUNT_UNIT_SQL, params)
            rows, kind = cursor.fetchall(), "accounts"
    if not rows:
        raise ValidationError(f"“{scenario.name}” has neither geo units nor located accounts in its territories.")
    if kind == "geo_units":  # leaves without units (overlays drawn over the geography) are not redesigned
        leaves = {pk: leaves[pk] for pk in {row[1] for row in rows}}
    columns = list(zip(*rows, strict=True))
    wkbs = [bytes(wkb) for wkb in columns[2]]
    scope = OptimizerScope(
        leaves=leaves,
        kind=kind,
        unit_ids=list(columns[0]),
        unit_territory=list(columns[1]),
        geometries=list(shapely.from_wkb(wkbs)),
        geometry_digest=hashlib.blake2b(b"".join(wkbs), digest_size=16).hexdigest(),
        unit_accounts=[list(accounts) for accounts in columns[7]],
        named_accounts=int(sum(columns[8])),
        named_potential=float(sum(columns[9])),
    )
    for name, values in zip(MEASURES, columns[3:7], strict=True):
        scope.measures[name] = [float(value) for value in values]
    return scope
