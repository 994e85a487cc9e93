"""The territory hierarchy inside a scenario, territory types, and assignment rules."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from territories.models import AssignmentRule, Scenario, Territory, TerritoryType
from territories.services.scenarios import scenario_ensure_editable, scenario_touch

_TERRITORY_FIELDS = {"name", "code", "level_name", "territory_type", "color", "is_locked"}
_RULE_FIELDS = {"name", "priority", "logic", "criteria", "within_boundary", "applies_to_children", "is_active"}
# A rule's name changes no account's territory; its other fields can.
_RULE_ALLOCATION_FIELDS = _RULE_FIELDS - {"name"}


def _check_parent(*, scenario: Scenario, parent: Territory | None) -> None:
    if parent is not None and parent.scenario_id != scenario.pk:
        raise ValidationError("The parent territory belongs to another scenario.")


def _check_code_free(*, scenario: Scenario, code: str, exclude_pk: int | None = None) -> str:
    code = (code or "").strip()
    if not code:
        raise ValidationError("A territory needs a code.")
    taken = Territory.objects.filter(scenario=scenario, code=code).exclude(pk=exclude_pk).exists()
    if taken:
        raise ValidationError(f'Code "{code}" is already used in scenario "{scenario.name}".')
    return code


@transaction.atomic
def territory_create(
    *,
    scenario: Scenario,
    name: str,
    code: str,
    parent: Territory | None = None,
    territory_type: TerritoryType | None = None,
    level_name: str = "",
    boundary=None,
    color: str = "",
    repair: bool = True,
) -> Territory:
    """Add a territory under `parent` (or as a root); depth follows the parent; a boundary is validated."""
    from territories.services.geography import geometry_clean

    scenario_ensure_editable(scenario=scenario)
    _check_parent(scenario=scenario, parent=parent)
    code = _check_code_free(scenario=scenario, code=code)
    if not (name or "").strip():
        raise ValidationError("A territory needs a name.")
    if boundary is not None:
        boundary, _report = geometry_clean(geometry=boundary, repair=repair)
    territory = Territory.objects.create(
        scenario=scenario,
        parent=parent,
        depth=(parent.depth + 1) if parent else 0,
        name=name.strip(),
        code=code,
        territory_type=territory_type,
        level_name=level_name,
        boundary=boundary,
        color=color,
    )
    scenario_touch(scenario=scenario)
    return territory


@transaction.atomic
def territory_update(*, territory: Territory, **fields) -> Territory:
    """Change a territory's own attributes (not its place in the tree: see territory_move; not its boundary:
    see territory_boundary_set)."""
    unknown = set(fields) - _TERRITORY_FIELDS
    if unknown:
        raise ValidationError(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    territory = Territory.objects.select_for_update().select_related("scenario").get(pk=territory.pk)
    scenario_ensure_editable(scenario=territory.scenario)
    if "code" in fields:
        fields["code"] = _check_code_free(scenario=territory.scenario, code=fields["code"], exclude_pk=territory.pk)
    if "name" in fields and not (fields["name"] or "").strip():
        raise ValidationError("A territory needs a name.")
    for name, value in fields.items():
        setattr(territory, name, value)
    territory.version += 1
    territory.save()
    scenario_touch(scenario=territory.scenario)
    return territory


_SUBTREE_DEPTH_SQL = """
WITH RECURSIVE subtree(id, depth) AS (
    SELECT id, %(depth)s::int FROM territories_territory WHERE id = %(root)s
    UNION ALL
    SELECT child.id, subtree.depth + 1 FROM territories_territory child JOIN subtree ON child.parent_id = subtree.id
)
UPDATE territories_territory t SET depth = subtree.depth, updated_at = now()
FROM subtree WHERE t.id = subtree.id AND t.depth <> subtree.depth
"""


@transaction.atomic
def territory_move(*, territory: Territory, parent: Territory | None) -> Territory:
    """Re-parent a territory with its subtree; depths below follow in one statement; cycles are refused."""
    from territories.selectors import territory_descendant_ids

    territory = Territory.objects.select_for_update().select_related("scenario").get(pk=territory.pk)
    scenario_ensure_editable(scenario=territory.scenario)
    _check_parent(scenario=territory.scenario, parent=parent)
    if parent is not None and parent.pk in territory_descendant_ids(territory=territory):
        raise ValidationError(
            f"Cannot move {territory.code} under {parent.code}: {parent.code} is {territory.code} itself or lies "
            "inside it, which would make a cycle."
        )
    territory.parent = parent
    territory.version += 1
    territory.save(update_fields=["parent", "version", "updated_at"])
    with connection.cursor() as cursor:
        cursor.execute(_SUBTREE_DEPTH_SQL, {"root": territory.pk, "depth": (parent.depth + 1) if parent else 0})
    territory.refresh_from_db()
    scenario_touch(scenario=territory.scenario)
    return territory


@transaction.atomic
def territory_delete(*, territory: Territory) -> None:
    """Remove a territory and its subtree (their rules, units and assignments go with them)."""
    scenario_ensure_editable(scenario=territory.scenario)
    scenario = territory.scenario
    territory.delete()
    scenario_touch(scenario=scenario)


def territory_type_create(*, name: str, kind: str, priority: int, description: str = "") -> TerritoryType:
    if kind not in TerritoryType.Kind.values:
        raise ValidationError(f"Kind must be one of {', '.join(TerritoryType.Kind.values)}.")
    if TerritoryType.objects.filter(priority=priority).exists():
        raise ValidationError(f"Priority {priority} is already taken; each territory type needs its own priority.")
    try:
        with transaction.atomic():
            return TerritoryType.objects.create(name=name, kind=kind, priority=priority, description=description)
    except IntegrityError:
        raise ValidationError(f'A territory type named "{name}" already exists.') from None


def territory_type_update(*, territory_type: TerritoryType, **fields) -> TerritoryType:
    allowed = {"name", "kind", "priority", "description"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    if (
        "priority" in fields
        and TerritoryType.objects.filter(priority=fields["priority"]).exclude(pk=territory_type.pk).exists()
    ):
        raise ValidationError(f"Priority {fields['priority']} is already taken by another territory type.")
    for name, value in fields.items():
        setattr(territory_type, name, value)
    territory_type.save()
    return territory_type


def _validate_rule_fields(fields: dict) -> None:
    from accounts.services.criteria import criteria_validate

    if "criteria" in fields or "logic" in fields:
        criteria_validate(criteria=fields.get("criteria", []), logic=fields.get("logic", "all"))
    if "name" in fields and not (fields["name"] or "").strip():
        raise ValidationError("A rule needs a name.")
    if "priority" in fields and (not isinstance(fields["priority"], int) or fields["priority"] < 0):
        raise ValidationError("Priority must be a whole number, 0 or more.")


def _reallocate_rule_territory(*, territory: Territory, trigger: str) -> None:
    """Queue (on commit) the re-allocation of a rule's territory and the leaves below it, when the scenario
    already has assignments; the run is territory-scoped, not a full one."""
    from accounts.services.allocation import allocation_queue_for_territories

    allocation_queue_for_territories(scenario=territory.scenario, territory_ids=[territory.pk], trigger=trigger)


@transaction.atomic
def rule_create(
    *,
    territory: Territory,
    name: str,
    criteria: list | None = None,
    logic: str = "all",
    priority: int = 100,
    within_boundary: bool = True,
    applies_to_children: bool = False,
    is_active: bool = True,
    reallocate: bool = True,
) -> AssignmentRule:
    """Add an assignment rule to a territory; criteria are checked against the account fields and operators.
    An active rule re-allocates its territory (a job queued on commit) once the scenario has assignments."""
    scenario_ensure_editable(scenario=territory.scenario)
    fields = {"name": name, "criteria": criteria or [], "logic": logic, "priority": priority}
    _validate_rule_fields(fields)
    rule = AssignmentRule.objects.create(
        territory=territory,
        within_boundary=within_boundary,
        applies_to_children=applies_to_children,
        is_active=is_active,
        **fields,
    )
    scenario_touch(scenario=territory.scenario)
    if reallocate and is_active:
        _reallocate_rule_territory(territory=territory, trigger=f'Rule "{rule.name}" added to {territory.code}')
    return rule


@transaction.atomic
def rule_update(*, rule: AssignmentRule, reallocate: bool = True, **fields) -> AssignmentRule:
    """Change a rule; a change that can move accounts re-allocates its territory (a job queued on commit)."""
    unknown = set(fields) - _RULE_FIELDS
    if unknown:
        raise ValidationError(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    scenario_ensure_editable(scenario=rule.territory.scenario)
    merged = {"criteria": rule.criteria, "logic": rule.logic, **fields}
    _validate_rule_fields(merged)
    moves_accounts = (rule.is_active or fields.get("is_active")) and any(
        getattr(rule, name) != value for name, value in fields.items() if name in _RULE_ALLOCATION_FIELDS
    )
    for name, value in fields.items():
        setattr(rule, name, value)
    rule.save()
    scenario_touch(scenario=rule.territory.scenario)
    if reallocate and moves_accounts:
        _reallocate_rule_territory(
            territory=rule.territory, trigger=f'Rule "{rule.name}" of {rule.territory.code} changed'
        )
    return rule


@transaction.atomic
def rule_delete(*, rule: AssignmentRule, reallocate: bool = True) -> None:
    """Remove a rule; if it was active, its territory is re-allocated (a job queued on commit)."""
    scenario_ensure_editable(scenario=rule.territory.scenario)
    scenario = rule.territory.scenario
    was_active, territory, name = rule.is_active, rule.territory, rule.name
    rule.delete()
    scenario_touch(scenario=scenario)
    if reallocate and was_active:
        _reallocate_rule_territory(territory=territory, trigger=f'Rule "{name}" of {territory.code} deleted')
