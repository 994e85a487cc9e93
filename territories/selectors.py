"""Read-side queries about scenarios and the territory hierarchy."""

from django.db import connection
from django.db.models import QuerySet

from territories.models import Scenario, Territory


def scenario_active() -> Scenario | None:
    return Scenario.objects.filter(status=Scenario.Status.ACTIVE).first()


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
