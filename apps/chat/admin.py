from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.chat.models import ChatChunk, ChatTurn, Message, TurnUsage


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin[Message]):
    list_display = ("message_id", "session", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("session__id", "message_id")
    raw_id_fields = ("session",)
    readonly_fields = ("id", "created_at")


@admin.register(ChatTurn)
class ChatTurnAdmin(admin.ModelAdmin[ChatTurn]):
    """Each agent turn: who asked, which worker generates it, how it ended."""

    list_display = ("message_id", "session", "user", "status", "runner", "created_at")
    list_filter = ("status",)
    search_fields = ("session__id", "message_id", "runner")
    list_select_related = ("session", "user")
    raw_id_fields = ("session", "user")
    readonly_fields = ("id", "created_at", "finished_at")


@admin.register(ChatChunk)
class ChatChunkAdmin(admin.ModelAdmin[ChatChunk]):
    """A turn's stream, chunk by chunk, as clients replay it."""

    list_display = ("turn", "seq")
    raw_id_fields = ("turn",)


@admin.register(TurnUsage)
class TurnUsageAdmin(admin.ModelAdmin[TurnUsage]):
    """What each turn used and cost, read-only: filter by project and user."""

    list_display = ("created_at", "project", "user", "model", "provider", "cost", "priced")
    list_filter = ("project", "user", "priced", "provider")
    search_fields = ("model", "message_id", "session__id", "user__email")
    list_select_related = ("project", "user")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
