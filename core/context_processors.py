from django.urls import NoReverseMatch, reverse

from core.roles import ADMIN, SALES_MANAGER, SALES_REP, user_role

# (label, url name, roles that see it); links whose page does not exist yet are left out.
_NAVIGATION = [
    ("Map workspace", "workspace:index", {ADMIN, SALES_MANAGER}),
    ("Scenarios", "territories:scenario-list", {ADMIN, SALES_MANAGER}),
    ("Reps", "reps:rep-list", {ADMIN, SALES_MANAGER}),
    ("Coverage", "reps:coverage", {ADMIN, SALES_MANAGER}),
    ("Performance", "performance:dashboard", {ADMIN, SALES_MANAGER}),
    ("My accounts", "reps:my-book", {SALES_REP}),
    ("My plan", "reps:call-plan", {SALES_REP}),
    ("My progress", "performance:my-progress", {SALES_REP}),
    ("Requests", "collaboration:request-list", {ADMIN, SALES_MANAGER, SALES_REP}),
    ("Sales plans", "collaboration:plan-list", {ADMIN, SALES_MANAGER, SALES_REP}),
    ("API docs", "api-docs", {ADMIN, SALES_MANAGER}),
    ("Admin", "admin:index", {ADMIN}),
]


def navigation(request):
    role = user_role(request.user) if hasattr(request, "user") else None
    links = []
    for label, url_name, roles in _NAVIGATION:
        if role not in roles:
            continue
        try:
            links.append({"label": label, "url": reverse(url_name)})
        except NoReverseMatch:
            continue
    unread = 0
    if role is not None:
        from collaboration.selectors.threads import notification_unread_count

        unread = notification_unread_count(user=request.user)
    return {"navigation_links": links, "user_role": role, "unread_notifications": unread}
