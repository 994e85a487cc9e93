"""Who may see and decide what: thin wrappers over the reps app's scope selectors, in one place.

"The manager above" a set of territories is a user with the decide permission whose scope (the territories
their teams' reps cover today, with their subtrees and the vacancies those reps left) contains every one of
them; an admin is above everything. A manager never decides a request they filed themselves (an admin may).
"""

from django.contrib.auth import get_user_model
from django.db.models import Q

from core.roles import ADMIN
from reps import selectors as rep_selectors
from territories.models import Territory


def user_is_admin(user) -> bool:
    return rep_selectors.user_is_admin(user)


def user_is_manager(user) -> bool:
    return rep_selectors.user_is_manager(user)


def user_territory_scope(*, user) -> set[int] | None:
    """Territory ids the user may see, or None for everything (admins).

    Reps are assigned to the territories of one scenario (the active one, normally); a planning clone keeps the
    territory codes, so a territory of another scenario is in scope when one with the same code is.
    """
    scope = rep_selectors.territory_ids_for_user(user=user)
    if not scope:
        return scope
    codes = Territory.objects.filter(pk__in=scope).values("code")
    return scope | set(Territory.objects.filter(code__in=codes).values_list("pk", flat=True))


def user_rep(*, user):
    return rep_selectors.rep_for_user(user=user)


def territories_in_scope(*, user, territory_ids) -> bool:
    scope = user_territory_scope(user=user)
    return scope is None or set(territory_ids) <= scope


def territories_touch_scope(*, user, territory_ids) -> bool:
    scope = user_territory_scope(user=user)
    return scope is None or bool(set(territory_ids) & scope)


def user_is_above(*, user, territory_ids, permission: str) -> bool:
    """Whether the user holds the permission and manages every one of the territories."""
    if not (user and user.is_authenticated and user.has_perm(permission)):
        return False
    if user_is_admin(user):
        return True
    return user_is_manager(user) and bool(territory_ids) and territories_in_scope(user=user,
                                                                                  territory_ids=territory_ids)


def managers_above(*, territory_ids, permission: str) -> list:
    """Every user who may decide for these territories: the managers above them, else the admins."""
    user_model = get_user_model()
    managers = (
        user_model.objects.filter(is_active=True, managed_teams__isnull=False).distinct().order_by("username")
    )
    deciders = [m for m in managers if user_is_above(user=m, territory_ids=territory_ids, permission=permission)]
    if deciders:
        return deciders
    admins = user_model.objects.filter(Q(is_superuser=True) | Q(groups__name=ADMIN), is_active=True)
    return list(admins.distinct().order_by("username"))
