"""Territories of the other types that sit beside the geography: named accounts and a product overlay."""

import datetime as dt

from django.db import connection
from simple_history.utils import bulk_create_with_history

from accounts.models import Account, AccountAssignment, AccountOverride
from reps.models import Rep, RepAssignment
from territories.models import AssignmentRule, Scenario, Territory, TerritoryType

from .constants import OVERLAY_PRODUCT, WEST_DIVISIONS

NAMED_ACCOUNT_COUNT = 12


def named_accounts_territory_create(*, scenario: Scenario, territory_type: TerritoryType, owner: Rep | None,
                                    since: dt.datetime, user=None) -> Territory:
    """A "Strategic accounts" territory holding the biggest enterprise accounts, placed there by overrides."""
    territory = Territory.objects.create(
        scenario=scenario, depth=0, level_name="territory", name="Strategic accounts", code="NAMED-STRATEGIC",
        territory_type=territory_type, color="#000000",
    )
    accounts = list(
        Account.objects.filter(segment=Account.Segment.ENTERPRISE).order_by("-potential", "external_id")
        .values_list("pk", flat=True)[:NAMED_ACCOUNT_COUNT]
    )
    overrides = AccountOverride.objects.bulk_create([
        AccountOverride(scenario=scenario, account_id=pk, territory=territory, reason="Strategic account",
                        created_by=user)
        for pk in accounts
    ])
    AccountAssignment.objects.bulk_create([
        AccountAssignment(scenario=scenario, account_id=override.account_id, territory=territory, valid_from=since,
                          source=AccountAssignment.Source.OVERRIDE, override=override, reason="Strategic account")
        for override in overrides
    ])
    if owner:
        bulk_create_with_history([RepAssignment(rep=owner, territory=territory, role=RepAssignment.Role.OWNER,
                                                valid_from=since.date())], RepAssignment)
    return territory


def product_overlay_territory_create(*, scenario: Scenario, territory_type: TerritoryType,
                                     regions: dict[str, Territory], specialist: Rep | None,
                                     since: dt.datetime) -> Territory | None:
    """An Analytics specialists' territory over the West: its boundary is the union of the western regions,
    and a rule pulls in the accounts there that use Analytics (placed set-based from the geography)."""
    west = [regions[code].pk for code in WEST_DIVISIONS if code in regions]
    if not west:
        return None
    territory = Territory.objects.create(
        scenario=scenario, depth=0, level_name="territory", name=f"{OVERLAY_PRODUCT} specialists – West",
        code=f"PRODUCT-{OVERLAY_PRODUCT.upper()}-WEST", territory_type=territory_type, color="#6a3d9a",
    )
    rule = AssignmentRule.objects.create(
        territory=territory, name=f"{OVERLAY_PRODUCT} accounts in the West", priority=10,
        criteria=[{"field": "products", "op": "contains", "value": OVERLAY_PRODUCT}], within_boundary=True,
    )
    table = Territory._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} SET boundary = (
                SELECT ST_Multi(ST_Union(boundary)) FROM {table} WHERE id = ANY(%(regions)s)
            ) WHERE id = %(territory)s
            """,
            {"regions": west, "territory": territory.pk},
        )
        cursor.execute(
            f"""
            INSERT INTO {AccountAssignment._meta.db_table}
                (scenario_id, account_id, territory_id, valid_from, valid_to, source, rule_id, reason)
            SELECT %(scenario)s, x.account_id, %(territory)s, %(since)s, NULL, 'rule', %(rule)s, %(reason)s
            FROM {AccountAssignment._meta.db_table} x
            JOIN {table} leaf ON leaf.id = x.territory_id
            JOIN {table} district ON district.id = leaf.parent_id
            JOIN {Account._meta.db_table} a ON a.id = x.account_id
            WHERE x.scenario_id = %(scenario)s AND x.valid_to IS NULL AND x.source = 'geography'
              AND district.parent_id = ANY(%(regions)s) AND a.products @> ARRAY[%(product)s]::varchar[]
            """,
            {"scenario": scenario.pk, "territory": territory.pk, "since": since, "rule": rule.pk,
             "reason": rule.name, "regions": west, "product": OVERLAY_PRODUCT},
        )
    if specialist:
        bulk_create_with_history([RepAssignment(rep=specialist, territory=territory,
                                                role=RepAssignment.Role.SPECIALIST, valid_from=since.date())],
                                 RepAssignment)
    return territory
