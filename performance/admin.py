"""Admin for quotas, activities, opportunities and KPI snapshots (read-only: jobs compute them)."""

from django.contrib import admin, messages

from performance.models import Activity, KpiSnapshot, Opportunity, Quota
from performance.periods import Period
from performance.services.kpis import kpi_recompute_request
from performance.services.opportunities import opportunity_save
from performance.services.quotas import quota_save


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = ["id", "territory", "rep", "metric", "period_start", "period_end", "target"]
    list_filter = ["metric", "period_start", "territory__scenario"]
    search_fields = ["territory__code", "territory__name", "rep__name"]
    autocomplete_fields = []
    raw_id_fields = ["territory", "rep"]
    date_hierarchy = "period_start"

    def save_model(self, request, obj, form, change):
        quota_save(quota=obj)


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "account", "rep", "occurred_at", "duration_minutes"]
    list_filter = ["kind"]
    search_fields = ["account__name", "account__external_id", "rep__name"]
    raw_id_fields = ["account", "rep"]
    date_hierarchy = "occurred_at"
    list_select_related = ["account", "rep"]


@admin.register(Opportunity)
class OpportunityAdmin(admin.ModelAdmin):
    list_display = ["name", "external_id", "account", "rep", "stage", "amount", "close_date"]
    list_filter = ["stage", "product"]
    search_fields = ["name", "external_id", "account__name", "account__external_id"]
    raw_id_fields = ["account", "rep"]
    date_hierarchy = "close_date"
    list_select_related = ["account", "rep"]

    def save_model(self, request, obj, form, change):
        opportunity_save(opportunity=obj)


@admin.register(KpiSnapshot)
class KpiSnapshotAdmin(admin.ModelAdmin):
    list_display = ["id", "scenario", "scope", "territory", "rep", "level", "period_start", "period_end",
                    "attainment", "visit_coverage", "flag_count", "computed_at"]
    list_filter = ["scope", "scenario", "period_start"]
    search_fields = ["territory__code", "territory__name", "rep__name"]
    list_select_related = ["scenario", "territory", "rep"]
    readonly_fields = [f.name for f in KpiSnapshot._meta.fields]
    actions = ["recompute_periods"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Attainment %")
    def attainment(self, snapshot):
        return snapshot.metrics.get("attainment")

    @admin.display(description="Coverage %")
    def visit_coverage(self, snapshot):
        return snapshot.metrics.get("visit_coverage")

    @admin.display(description="Flags")
    def flag_count(self, snapshot):
        return len(snapshot.flags or [])

    @admin.action(description="Recompute the selected snapshots' periods (queued jobs)")
    def recompute_periods(self, request, queryset):
        keys = set(queryset.values_list("scenario", "period_start", "period_end"))
        from territories.models import Scenario

        scenarios = Scenario.objects.in_bulk({key[0] for key in keys})
        jobs = [kpi_recompute_request(scenario=scenarios[pk], period=Period(start, end), user=request.user)
                for pk, start, end in sorted(keys)]
        self.message_user(request, f"Queued {len(jobs)} recompute job(s): "
                                   f"{', '.join('#' + str(job.pk) for job in jobs)}", messages.SUCCESS)
