"""The allocation plan: a scenario's hierarchy and rules resolved into (rule, leaf) targets, in Python over
territories and rules only (never over accounts)."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import BooleanField, ExpressionWrapper, Q

from territories.models import AssignmentRule, Scenario, Territory

NO_PRIORITY = 2_147_483_647  # sorts after every real priority


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
