from __future__ import annotations

from django.db import models

from apps.projects.models import Project
from discobot.models import TimestampedModel, UUIDModel


class AuthType(models.TextChoices):
    API_KEY = "api_key", "API key"
    OAUTH = "oauth", "OAuth"


class Credential(UUIDModel, TimestampedModel):
    """An LLM provider secret of a project, encrypted at rest (AES-256-GCM); never shown."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="credentials")
    provider = models.CharField(max_length=50)
    name = models.CharField(max_length=200)
    auth_type = models.CharField(max_length=10, choices=AuthType.choices, default=AuthType.API_KEY)
    encrypted_data = models.BinaryField(editable=False)
    # Which ENCRYPTION_KEY sealed `encrypted_data`, so keys can rotate.
    key_id = models.CharField(max_length=16, editable=False, blank=True)
    is_configured = models.BooleanField(default=False)
    # OAuth only: when the access token expires, and whether a refresh failed (the user has
    # to authorize again; the credential is kept so they can see what broke).
    expires_at = models.DateTimeField(null=True, blank=True)
    needs_reauth = models.BooleanField(default=False)

    class Meta:
        ordering = ("provider",)
        constraints = (
            models.UniqueConstraint(
                fields=("project", "provider"), name="unique_credential_per_project_provider"
            ),
        )

    def __str__(self) -> str:
        return f"{self.name} ({self.provider})"
