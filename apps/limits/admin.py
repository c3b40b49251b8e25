from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.limits.models import Limit, LimitUsage


@admin.register(Limit)
class LimitAdmin(admin.ModelAdmin[Limit]):
    """The projects' limits (a blank user: the whole project's), editable by operators."""

    list_display = ("project", "user", "metric", "window", "amount", "updated_at")
    list_filter = ("metric", "window", "project", "user")
    search_fields = ("project__name", "project__id", "user__email")
    list_select_related = ("project", "user")
    raw_id_fields = ("project", "user")
    readonly_fields = ("id", "created_at", "updated_at")


@admin.register(LimitUsage)
class LimitUsageAdmin(admin.ModelAdmin[LimitUsage]):
    """What each project and member used per period, read-only: the turns charge it."""

    list_display = ("project", "user", "metric", "window", "period_start", "used")
    list_filter = ("metric", "window", "project", "user")
    search_fields = ("project__name", "project__id", "user__email")
    list_select_related = ("project", "user")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
