from django.contrib import admin

from apps.terminal.models import TerminalHistory, TerminalTranscript


@admin.register(TerminalHistory)
class TerminalHistoryAdmin(admin.ModelAdmin[TerminalHistory]):
    list_display = ("session", "line", "entry_type", "created_at")
    list_filter = ("entry_type",)
    search_fields = ("session__id", "content")
    raw_id_fields = ("session",)
    readonly_fields = ("id", "created_at")


@admin.register(TerminalTranscript)
class TerminalTranscriptAdmin(admin.ModelAdmin[TerminalTranscript]):
    list_display = ("session", "next_line", "capturing_until")
    search_fields = ("session__id",)
    raw_id_fields = ("session",)
