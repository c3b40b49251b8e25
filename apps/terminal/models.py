from __future__ import annotations

from django.db import models

from apps.workspaces.models import Session
from discobot.models import UUIDModel


class TerminalEntryType(models.TextChoices):
    INPUT = "input", "Input"
    OUTPUT = "output", "Output"


class TerminalHistory(UUIDModel):
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="terminal_history")
    entry_type = models.CharField(max_length=10, choices=TerminalEntryType.choices)
    content = models.TextField()
    exit_code = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")
        verbose_name_plural = "terminal history"
        indexes = (models.Index(fields=("session", "created_at"), name="terminal_session_idx"),)

    def __str__(self) -> str:
        return f"{self.entry_type}: {self.content[:40]}"
