from __future__ import annotations

from django.db import models

from apps.core.crypto import EncryptedField
from apps.workspaces.models import Session
from discobot.models import UUIDModel


class TerminalEntryType(models.TextChoices):
    INPUT = "input", "Input"
    OUTPUT = "output", "Output"


class TerminalHistory(UUIDModel):
    """One line of a session's terminal transcript (entry type `output`), as tmux shows it."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="terminal_history")
    # The line's place in the session's transcript (the rows of one capture can share a time).
    line = models.PositiveBigIntegerField()
    entry_type = models.CharField(max_length=10, choices=TerminalEntryType.choices)
    content = models.TextField()
    exit_code = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "line")
        verbose_name_plural = "terminal history"
        constraints = (
            models.UniqueConstraint(fields=("session", "line"), name="terminal_line_per_session"),
        )
        # Pruning by age spans every session.
        indexes = (models.Index(fields=("created_at",), name="terminal_created_idx"),)

    def __str__(self) -> str:
        return f"{self.entry_type}: {self.content[:40]}"


class TerminalTranscript(models.Model):
    """What the server remembers of a session's tmux terminals to append only what is new:
    per terminal, the last lines recorded and where they stood in its capture."""

    session = models.OneToOneField(
        Session, on_delete=models.CASCADE, primary_key=True, related_name="terminal_transcript"
    )
    # {"<tmux socket> <tmux session>": {"tail": [lines], "end": index after the tail}}
    terminals = models.JSONField(default=dict)
    next_line = models.PositiveBigIntegerField(default=1)
    # A capture holds this lease while it reads tmux, so that captures of several tabs or
    # server processes never record the same lines twice.
    capturing_until = models.DateTimeField(null=True, blank=True)
    # The tokens of everyone who attached, sealed (`TRANSCRIPT_CALLER_TOKENS`): what they signed
    # in with is masked in every capture, also the last one made after they left.
    caller_tokens = models.BinaryField(default=b"", editable=False)
    caller_tokens_key_id = models.CharField(max_length=16, blank=True, editable=False)

    def __str__(self) -> str:
        return f"transcript of {self.session_id}"


TRANSCRIPT_CALLER_TOKENS = EncryptedField(
    model=TerminalTranscript,
    ciphertext="caller_tokens",
    key_id="caller_tokens_key_id",
    binding=lambda transcript: f"terminal-transcript:{transcript.session_id}".encode(),
    project_lookup="session__project_id",
    secret_values=lambda tokens: [token for token in tokens if isinstance(token, str)],
)
