"""Admin for accounts, overrides, assignments and allocation runs; actions call the allocation services."""

from django.contrib import admin, messages
from leaflet.admin import LeafletGeoAdmin
from simple_history.admin import SimpleHistoryAdmin

from accounts.models import Account, AccountAssignment, AccountOverride, AllocationRun


class AssignmentInline(admin.TabularInline):
    model = AccountAssignment
    extra = 0
    can_delete = False
    fields = ["scenario", "territory", "valid_from", "valid_to", "source", "rule", "override", "reason"]
    readonly_fields = fields
    ordering = ["-valid_from"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(LeafletGeoAdmin):
    list_display = ["external_id", "name", "city", "state", "industry", "segment", "tier", "status",
                    "annual_revenue"]
    list_filter = ["segment", "tier", "status", "customer_type", "industry"]
    search_fields = ["external_id", "name", "city", "postal_code"]
    inlines = [AssignmentInline]
    actions = ["reallocate"]

    @admin.action(description="Re-allocate in the active scenario")
    def reallocate(self, request, queryset):
        from accounts.services.allocation import allocation_run
        from territories.selectors import scenario_active

        active = scenario_active()
        if active is None:
            self.message_user(request, "No scenario is active.", level=messages.ERROR)
            return
        run = allocation_run(scenario=active, account_ids=list(queryset.values_list("pk", flat=True)),
                             created_by=request.user)
        self.message_user(request, f"{run.summary['changed']} of {run.summary['accounts_in_scope']} accounts moved.")


@admin.register(AccountOverride)
class AccountOverrideAdmin(SimpleHistoryAdmin):
    list_display = ["account", "territory", "kind", "scenario", "is_active", "reason", "created_at"]
    list_filter = ["kind", "is_active", "scenario"]
    raw_id_fields = ["account", "territory"]
    list_select_related = ["account", "territory", "scenario"]
    actions = ["withdraw"]

    def save_model(self, request, obj, form, change):
        from accounts.services.overrides import override_create

        if change:
            super().save_model(request, obj, form, change)
            return
        created = override_create(scenario=obj.scenario, account=obj.account, territory=obj.territory, kind=obj.kind,
                                  reason=obj.reason, created_by=request.user)
        obj.pk = created.pk

    @admin.action(description="Withdraw (the account goes back to what the rules say)")
    def withdraw(self, request, queryset):
        from accounts.services.overrides import override_deactivate

        for override in queryset.filter(is_active=True):
            override_deactivate(override=override, actor=request.user)
        self.message_user(request, "Overrides withdrawn.")


@admin.register(AccountAssignment)
class AccountAssignmentAdmin(admin.ModelAdmin):
    """Read-only: assignments are history, written by runs, overrides and imports."""

    list_display = ["account", "territory", "scenario", "valid_from", "valid_to", "source", "rule"]
    list_filter = ["source", "scenario"]
    search_fields = ["account__external_id", "account__name", "territory__code"]
    list_select_related = ["account", "territory", "scenario", "rule"]
    raw_id_fields = ["account", "territory", "rule", "override", "run"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(AllocationRun)
class AllocationRunAdmin(admin.ModelAdmin):
    list_display = ["pk", "scenario", "is_preview", "created_by", "created_at", "finished_at"]
    list_filter = ["is_preview", "scenario"]
    readonly_fields = ["scenario", "job", "is_preview", "summary", "created_by", "created_at", "finished_at"]
