from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import models

from apps.core.crypto import EncryptedField
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
    # An OpenAI- or Anthropic-compatible endpoint (Ollama, vLLM, a gateway) to call instead of
    # the provider's own; blank: the provider's. Not secret: keys travel in headers only.
    base_url = models.CharField(max_length=2000, blank=True)
    # What the endpoint charges, in US dollars per million tokens (input, output): turns paid
    # by this credential are priced with them; unset, litellm's list price (or none at all
    # for a base URL of its own).
    input_price_per_million = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True
    )
    output_price_per_million = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True
    )

    class Meta:
        ordering = ("provider",)
        constraints = (
            models.UniqueConstraint(
                fields=("project", "provider"), name="unique_credential_per_project_provider"
            ),
        )

    def __str__(self) -> str:
        return f"{self.name} ({self.provider})"


# The values of a stored secret that are secret (the rest: token type, scope, expiry, domain).
SECRET_FIELDS = ("api_key", "access_token", "refresh_token", "id_token")


def credential_secret_values(secret: dict[str, Any]) -> Iterator[str]:
    return (secret[name] for name in SECRET_FIELDS if isinstance(secret.get(name), str))


# `{"api_key"}` or `{"access_token", "refresh_token", ...}`: it opens only in this row of this
# project.
CREDENTIAL_SECRET = EncryptedField(
    model=Credential,
    ciphertext="encrypted_data",
    key_id="key_id",
    binding=lambda credential: f"credential:{credential.project_id}:{credential.id}".encode(),
    project_lookup="project_id",
    secret_values=credential_secret_values,
)
