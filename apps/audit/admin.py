from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin[AuditEntry]):
    # A log: operators read it; nobody adds, changes or deletes entries (prune_audit ages them).
    list_display = ("created_at", "action", "actor_label", "target_label", "project_id", "address")
    list_filter = ("action", "target_type")
    search_fields = ("actor_label", "target_label", "target_id", "project_id", "address")
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
