"""The three roles, as groups with model permissions; kept in step with the models after every migrate."""

from django.contrib.auth.models import Group, Permission

ADMIN = "admin"
SALES_MANAGER = "sales manager"
SALES_REP = "sales rep"

# Managers design and run territories; reps read their own book (row-level limits live in selectors).
_MANAGER_APPS = {"territories", "accounts", "reps", "performance", "core", "collaboration"}
_REP_PERMISSIONS = {
    "accounts": {"view_account", "view_accountassignment"},
    "territories": {"view_territory", "view_scenario"},
    "performance": {"view_activity", "add_activity", "change_activity", "view_opportunity", "view_quota",
                    "view_kpisnapshot"},
    "reps": {"view_rep", "view_repassignment", "view_visitcadence"},
}


def _rep_permissions() -> dict[str, set[str]]:
    from collaboration.permissions import REP_PERMISSIONS as COLLABORATION_REP_PERMISSIONS

    return {**_REP_PERMISSIONS, "collaboration": set(COLLABORATION_REP_PERMISSIONS)}


def roles_sync() -> dict[str, Group]:
    """Create or update the role groups; idempotent."""
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in (ADMIN, SALES_MANAGER, SALES_REP)}
    groups[ADMIN].permissions.set(Permission.objects.all())
    groups[SALES_MANAGER].permissions.set(
        Permission.objects.filter(content_type__app_label__in=_MANAGER_APPS).exclude(
            content_type__app_label="core", content_type__model="user"
        )
    )
    rep_permissions = Permission.objects.none()
    for app_label, codenames in _rep_permissions().items():
        rep_permissions |= Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
    groups[SALES_REP].permissions.set(rep_permissions)
    return groups


def user_group_names(user) -> frozenset[str]:
    """The names of a user's groups, read once per user object (a request's user lives for one request), so the
    several role checks of one request cost one query instead of one each."""
    cached = getattr(user, "_group_names_cache", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True)) if user.pk else frozenset()
        user._group_names_cache = cached
    return cached


def user_group_names_prime(user, names) -> None:
    """Give a user object its group names read by another query (the API token's), so no role check reads them."""
    user._group_names_cache = frozenset(names)


def user_role(user) -> str | None:
    """The strongest role a user holds, for navigation and landing pages."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return ADMIN
    names = user_group_names(user)
    for role in (ADMIN, SALES_MANAGER, SALES_REP):
        if role in names:
            return role
    return None
