from __future__ import annotations

from django.db import models

from apps.workspaces.models import Session
from discobot.models import UUIDModel


class MessageRole(models.TextChoices):
    USER = "user", "User"
    ASSISTANT = "assistant", "Assistant"
    SYSTEM = "system", "System"


class Message(UUIDModel):
    """One AI SDK UIMessage of a session; `parts` holds its parts exactly as the SDK sends them."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="messages")
    # The UIMessage id chosen by the client or the server stream (not a UUID in the AI SDK).
    message_id = models.CharField(max_length=200)
    role = models.CharField(max_length=10, choices=MessageRole.choices)
    parts = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")
        constraints = (
            models.UniqueConstraint(
                fields=("session", "message_id"), name="unique_message_id_per_session"
            ),
        )
        indexes = (models.Index(fields=("session", "created_at"), name="message_session_idx"),)

    def __str__(self) -> str:
        return f"{self.role} {self.message_id}"
