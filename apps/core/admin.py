from django.contrib import admin
from django.http import HttpRequest

from apps.core.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin[Job]):
    list_display = ("type", "resource_id", "project", "status", "attempts", "created_at")
    list_filter = ("status", "type")
    search_fields = ("resource_id", "project__name", "error")
    list_select_related = ("project",)
    readonly_fields = (
        "id",
        "project",
        "type",
        "resource_type",
        "resource_id",
        "status",
        "attempts",
        "max_attempts",
        "error",
        "run_after",
        "lease_expires_at",
        "worker_id",
        "created_at",
        "started_at",
        "finished_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # jobs are created by the services that need them
