"""Read-side queries about scenarios and the territory hierarchy."""

from django.db import connection
from django.db.models import QuerySet

from core.request_memo import request_memo
from territories.models import Scenario, Territory


def scenario_active() -> Scenario | None:
    """The active scenario (read once per read-only request: see core.request_memo)."""
    return request_memo("scenario_active", lambda: Scenario.objects.filter(status=Scenario.Status.ACTIVE).first())


def territory_leaves(*, scenario: Scenario) -> QuerySet[Territory]:
    """Territories without children: the ones accounts and reps are placed in."""
    return Territory.objects.filter(scenario=scenario, children__isnull=True)


def territory_descendant_ids(*, territory: Territory, include_self: bool = True) -> list[int]:
    """Ids of a territory's whole subtree, in one recursive query."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH RECURSIVE subtree(id) AS (
                SELECT id FROM territories_territory WHERE id = %s
                UNION ALL
                SELECT child.id FROM territories_territory child JOIN subtree ON child.parent_id = subtree.id
            )
            SELECT id FROM subtree
            """,
            [territory.pk],
        )
        ids = [row[0] for row in cursor.fetchall()]
    return ids if include_self else [pk for pk in ids if pk != territory.pk]


def scenario_active_at(*, at) -> Scenario | None:
    """The scenario that was in force at a moment: the last one activated (by hand, schedule or rollback)
    before it, from the scenario event log; the current active one when the log says nothing."""
    from territories.models import ScenarioEvent

    event = (
        ScenarioEvent.objects.filter(action=ScenarioEvent.Action.ACTIVATED, created_at__lte=at)
        .select_related("scenario").order_by("-created_at", "-pk").first()
    )
    if event is not None:
        return event.scenario
    if ScenarioEvent.objects.filter(action=ScenarioEvent.Action.ACTIVATED).exists():
        return None  # the first activation came later: nothing was in force yet
    return scenario_active()


def scenario_list() -> QuerySet[Scenario]:
    return Scenario.objects.select_related("cloned_from", "previous_active", "created_by")


def territory_tree(*, scenario: Scenario) -> list[dict]:
    """The hierarchy as nested dicts (one query), children ordered by code."""
    rows = list(
        Territory.objects.filter(scenario=scenario).select_related("territory_type")
        .order_by("depth", "code")
    )
    nodes = {row.pk: {"territory": row, "children": []} for row in rows}
    roots = []
    for row in rows:
        (nodes[row.parent_id]["children"] if row.parent_id in nodes else roots).append(nodes[row.pk])
    return roots


def rule_field_kinds() -> dict[str, str]:
    """Each account field a rule may test and its kind (text, number or list), for the rules editor."""
    from accounts.services.criteria import LIST_FIELDS, NUMBER_FIELDS, TEXT_FIELDS

    kinds = dict.fromkeys(TEXT_FIELDS, "text") | dict.fromkeys(NUMBER_FIELDS, "number")
    return dict(sorted((kinds | dict.fromkeys(LIST_FIELDS, "list")).items()))
