from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from core.models import Job, User

admin.site.register(User, UserAdmin)


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "status", "progress", "message", "created_by", "created_at", "finished_at"]
    list_filter = ["kind", "status"]
    readonly_fields = [f.name for f in Job._meta.fields]
