from django.contrib import admin

from apps.chat.models import ChatChunk, ChatTurn, Message


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
