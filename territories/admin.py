"""Admin for scenarios, the hierarchy, geo units and rules: maps through django-leaflet, history through
simple-history, and actions that call the same services as the API and pages."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from leaflet.admin import LeafletGeoAdmin
from simple_history.admin import SimpleHistoryAdmin

from territories import services
from territories.models import (
    AssignmentRule,
    GeoUnit,
    GeoUnitLayer,
    OptimizerAlternative,
    Scenario,
    ScenarioEvent,
    Territory,
    TerritoryType,
    TerritoryUnit,
)


def _report(modeladmin, request, action):
    try:
        message = action()
    except ValidationError as exc:
        modeladmin.message_user(request, "; ".join(exc.messages), level=messages.ERROR)
    else:
        modeladmin.message_user(request, message)


class ScenarioEventInline(admin.TabularInline):
    model = ScenarioEvent
    extra = 0
    readonly_fields = ["action", "detail", "actor", "created_at"]
    can_delete = False


class OptimizerAlternativeInline(admin.TabularInline):
    """A realignment's trade-off points; managers choose them on the map workspace."""

    model = OptimizerAlternative
    fk_name = "run"
    extra = 0
    fields = ["tolerance_factor", "adopted_as", "created_at"]
    readonly_fields = fields
    can_delete = False
    verbose_name = "trade-off point"


@admin.register(Scenario)
class ScenarioAdmin(SimpleHistoryAdmin):
    list_display = ["name", "status", "activated_at", "scheduled_activation_at", "previous_active", "version"]
    list_filter = ["status"]
    search_fields = ["name"]
    readonly_fields = ["status", "cloned_from", "previous_active", "activated_at", "archived_at", "version"]
    inlines = [ScenarioEventInline, OptimizerAlternativeInline]
    actions = ["clone_scenarios", "activate_scenario", "roll_back"]

    @admin.action(description="Clone into a new planning scenario")
    def clone_scenarios(self, request, queryset):
        for scenario in queryset:
            _report(self, request, lambda s=scenario: "Cloned as "
                    f"{services.scenario_clone(scenario=s, created_by=request.user).name}.")

    @admin.action(description="Activate (archives the active one)")
    def activate_scenario(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one scenario to activate.", level=messages.ERROR)
            return
        _report(self, request, lambda: f"{services.scenario_activate(scenario=queryset.get(), actor=request.user)} "
                                       "is now active.")

    @admin.action(description="Roll back to the previously active scenario")
    def roll_back(self, request, queryset):
        _report(self, request, lambda: f"{services.scenario_rollback(actor=request.user)} is active again.")


@admin.register(TerritoryType)
class TerritoryTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "priority"]
    ordering = ["priority"]


class AssignmentRuleInline(admin.TabularInline):
    model = AssignmentRule
    extra = 0
    fields = ["name", "priority", "logic", "criteria", "within_boundary", "applies_to_children", "is_active"]


@admin.register(Territory)
class TerritoryAdmin(SimpleHistoryAdmin, LeafletGeoAdmin):
    list_display = ["code", "name", "scenario", "level_name", "depth", "territory_type", "built_from_units",
                    "is_locked"]
    list_filter = ["scenario", "territory_type", "depth", "built_from_units"]
    search_fields = ["code", "name"]
    list_select_related = ["scenario", "territory_type"]
    raw_id_fields = ["parent"]
    readonly_fields = ["depth", "version"]
    inlines = [AssignmentRuleInline]
    actions = ["rebuild_boundaries"]

    def save_model(self, request, obj, form, change):
        """Edits go through the services: depth follows the parent, boundaries are validated."""
        if not change:
            created = services.territory_create(
                scenario=obj.scenario, name=obj.name, code=obj.code, parent=obj.parent,
                territory_type=obj.territory_type, level_name=obj.level_name, boundary=obj.boundary, color=obj.color,
            )
            obj.pk = created.pk
            obj.refresh_from_db()
            return
        previous = Territory.objects.get(pk=obj.pk)
        services.scenario_ensure_editable(scenario=previous.scenario)
        if obj.parent_id != previous.parent_id:
            services.territory_move(territory=previous, parent=obj.parent)
        if "boundary" in form.changed_data and not obj.built_from_units:
            services.territory_boundary_set(territory=previous, boundary=obj.boundary)
        services.territory_update(territory=Territory.objects.get(pk=obj.pk), name=obj.name, code=obj.code,
                                  level_name=obj.level_name, territory_type=obj.territory_type, color=obj.color,
                                  is_locked=obj.is_locked)
        obj.refresh_from_db()

    @admin.action(description="Rebuild boundaries from geo units")
    def rebuild_boundaries(self, request, queryset):
        count = services.territory_boundary_rebuild(territory_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} boundaries rebuilt from their units.")


@admin.register(GeoUnitLayer)
class GeoUnitLayerAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "source", "created_at"]


@admin.register(GeoUnit)
class GeoUnitAdmin(LeafletGeoAdmin):
    list_display = ["code", "name", "layer"]
    list_filter = ["layer"]
    search_fields = ["code", "name"]
    list_select_related = ["layer"]


@admin.register(TerritoryUnit)
class TerritoryUnitAdmin(admin.ModelAdmin):
    list_display = ["unit", "territory", "scenario"]
    list_filter = ["scenario"]
    raw_id_fields = ["territory", "unit"]
    list_select_related = ["unit", "territory", "scenario"]


@admin.register(AssignmentRule)
class AssignmentRuleAdmin(SimpleHistoryAdmin):
    list_display = ["name", "territory", "priority", "logic", "within_boundary", "applies_to_children", "is_active"]
    list_filter = ["is_active", "within_boundary", "territory__scenario"]
    search_fields = ["name", "territory__code"]
    raw_id_fields = ["territory"]
    list_select_related = ["territory"]

    def save_model(self, request, obj, form, change):
        fields = {"name": obj.name, "criteria": obj.criteria, "logic": obj.logic, "priority": obj.priority,
                  "within_boundary": obj.within_boundary, "applies_to_children": obj.applies_to_children,
                  "is_active": obj.is_active}
        if change:
            services.rule_update(rule=AssignmentRule.objects.get(pk=obj.pk), **fields)
        else:
            obj.pk = services.rule_create(territory=obj.territory, **fields).pk
        obj.refresh_from_db()

