from django.contrib import admin

from apps.chat.models import Message


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin[Message]):
    list_display = ("message_id", "session", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("session__id", "message_id")
    raw_id_fields = ("session",)
    readonly_fields = ("id", "created_at")
