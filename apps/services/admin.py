from django.contrib import admin
from django.http import HttpRequest

from apps.services.models import ServiceRun


@admin.register(ServiceRun)
class ServiceRunAdmin(admin.ModelAdmin[ServiceRun]):
    """Read-only: a run's state is the sandbox's to say (stop it through the API)."""

    list_display = ("session", "service_id", "status", "pid", "started_at", "exit_code")
    list_filter = ("status",)
    search_fields = ("session__id", "service_id")
    raw_id_fields = ("session", "use")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ServiceRun | None = None) -> bool:
        return False
