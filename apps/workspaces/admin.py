from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.workspaces.models import SandboxUse, Session, SessionAction, Workspace


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin[Workspace]):
    list_display = ("__str__", "project", "source_type", "status", "provider", "created_at")
    list_filter = ("status", "source_type", "provider")
    search_fields = ("path", "display_name", "project__name", "id")
    list_select_related = ("project",)
    readonly_fields = ("id", "created_at", "updated_at")


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin[Session]):
    list_display = (
        "id",
        "__str__",
        "project",
        "workspace",
        "status",
        "commit_status",
        "updated_at",
    )
    list_filter = ("status", "commit_status", "sandbox_provider")
    search_fields = ("id", "name", "display_name", "project__name")
    list_select_related = ("project", "workspace")
    raw_id_fields = ("workspace", "agent")
    readonly_fields = ("created_at", "updated_at")


@admin.register(SandboxUse)
class SandboxUseAdmin(admin.ModelAdmin[SandboxUse]):
    """What holds a sandbox awake; an expired one's holder died and no longer counts."""

    list_display = ("session", "kind", "user", "started_at", "expires_at")
    list_filter = ("kind",)
    list_select_related = ("session", "user")
    raw_id_fields = ("session", "user")
    readonly_fields = ("started_at",)


@admin.register(SessionAction)
class SessionActionAdmin(admin.ModelAdmin[SessionAction]):
    """The audit trail, read-only: what the agent and the terminals did in each session."""

    list_display = ("created_at", "session", "kind", "tool", "user", "exit_code", "provider")
    list_filter = ("kind", "tool", "provider")
    search_fields = ("session__id", "tool", "message_id", "user__email")
    list_select_related = ("session", "user")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
