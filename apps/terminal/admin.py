from django.contrib import admin

from apps.terminal.models import TerminalHistory


@admin.register(TerminalHistory)
class TerminalHistoryAdmin(admin.ModelAdmin[TerminalHistory]):
    list_display = ("session", "entry_type", "exit_code", "created_at")
    list_filter = ("entry_type",)
    search_fields = ("session__id", "content")
    raw_id_fields = ("session",)
    readonly_fields = ("id", "created_at")
