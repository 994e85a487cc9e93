"""Admin for reps, teams, rep assignments and cadences, cut to a manager's scope like every other view."""

from django.contrib import admin
from leaflet.admin import LeafletGeoAdminMixin
from simple_history.admin import SimpleHistoryAdmin

from reps.models import Rep, RepAssignment, Team, VisitCadence
from reps.selectors import rep_assignment_list, rep_editable_list, rep_list, team_list, user_is_admin


class ScopedAdminMixin:
    """Rows outside the user's scope are not listed, and those they may only see cannot be changed."""

    def scoped_queryset(self, request):
        raise NotImplementedError

    def editable_queryset(self, request):
        return self.scoped_queryset(request)

    def get_queryset(self, request):
        if user_is_admin(request.user):
            return super().get_queryset(request)
        return self.scoped_queryset(request)

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        if not allowed or obj is None or user_is_admin(request.user):
            return allowed
        return self.editable_queryset(request).filter(pk=obj.pk).exists()

    def has_delete_permission(self, request, obj=None):
        return user_is_admin(request.user) and super().has_delete_permission(request, obj)


@admin.register(Team)
class TeamAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "manager"]
    search_fields = ["name"]

    def scoped_queryset(self, request):
        return team_list(user=request.user)


@admin.register(Rep)
class RepAdmin(ScopedAdminMixin, LeafletGeoAdminMixin, SimpleHistoryAdmin):
    list_display = ["name", "team", "role", "seniority", "capacity_hours", "home_city", "is_active"]
    list_filter = ["role", "seniority", "is_active", "team"]
    search_fields = ["name", "email", "home_city"]
    autocomplete_fields = ["team"]
    raw_id_fields = ["user"]

    def scoped_queryset(self, request):
        return rep_list(user=request.user)

    def editable_queryset(self, request):
        return rep_editable_list(user=request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "team" and not user_is_admin(request.user):
            kwargs["queryset"] = team_list(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(RepAssignment)
class RepAssignmentAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    """Read-only: assignments are made with rep_assign (pages, API) so the history stays consistent."""

    list_display = ["territory", "rep", "role", "valid_from", "valid_to", "note"]
    list_filter = ["role", "territory__scenario"]
    search_fields = ["territory__code", "territory__name", "rep__name"]
    list_select_related = ["territory", "rep"]

    def scoped_queryset(self, request):
        return rep_assignment_list(user=request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(VisitCadence)
class VisitCadenceAdmin(admin.ModelAdmin):
    list_display = ["tier", "visits_per_year", "minutes_per_visit"]
