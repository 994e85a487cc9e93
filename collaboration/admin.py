from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from collaboration.models import (
    ChangeRequest,
    Comment,
    Notification,
    SalesPlan,
    SalesPlanAction,
    SalesPlanGoal,
    ShareLink,
)


@admin.register(ChangeRequest)
class ChangeRequestAdmin(SimpleHistoryAdmin):
    list_display = ["id", "title", "scenario", "kind", "status", "proposed_by", "decided_by", "created_at"]
    list_filter = ["status", "kind", "scenario"]
    search_fields = ["title", "reason"]
    # Decisions go through the pages or the API so they are applied and audited; the admin only reads them.
    readonly_fields = ["scenario", "kind", "status", "payload", "territory_ids", "impact", "impact_computed_at",
                       "base_scenario_version", "base_state", "proposed_by", "decided_by", "decided_at",
                       "applied_at", "applied_summary"]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["id", "content_type", "object_id", "author", "is_system", "created_at"]
    list_filter = ["content_type", "is_system"]
    search_fields = ["body"]
    raw_id_fields = ["author", "mentions"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["id", "recipient", "kind", "message", "created_at", "read_at", "emailed_at"]
    list_filter = ["kind"]
    raw_id_fields = ["recipient", "actor"]


class SalesPlanGoalInline(admin.TabularInline):
    model = SalesPlanGoal
    extra = 0
    raw_id_fields = ["quota"]


class SalesPlanActionInline(admin.TabularInline):
    model = SalesPlanAction
    extra = 0
    raw_id_fields = ["owner", "account"]


@admin.register(SalesPlan)
class SalesPlanAdmin(SimpleHistoryAdmin):
    list_display = ["id", "territory", "period_start", "period_end", "status", "author", "approved_by"]
    list_filter = ["status"]
    raw_id_fields = ["territory", "author", "approved_by", "reviewed_by", "key_accounts"]
    inlines = [SalesPlanGoalInline, SalesPlanActionInline]


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin):
    list_display = ["id", "scenario", "label", "prefix", "expires_at", "revoked_at", "view_count"]
    readonly_fields = ["prefix", "token_hash", "view_count", "last_viewed_at"]
    # Links are created on the share page (the token is shown once); the admin can only revoke by date.
    def has_add_permission(self, request):
        return False
