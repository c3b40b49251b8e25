from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from apps.core.crypto import DecryptionError, encrypted_fields
from apps.credentials.models import CREDENTIAL_SECRET, AuthType, Credential
from apps.projects.models import Project
from discobot.errors import ApplicationError, NotFoundError

ANTHROPIC_VERSION = "2023-06-01"
# Anthropic accepts an OAuth access token as a bearer only with this beta flag.
ANTHROPIC_OAUTH_BETA = "oauth-2025-04-20"
# GitHub's tokens (Copilot's device flow included) and OpenAI's keys and Codex tokens.
BEARER_PROVIDERS = ("openai", "codex", "github-copilot", "github")


def credential_list(*, project: Project) -> QuerySet[Credential]:
    return project.credentials.order_by("provider")


def credential_get(*, project: Project, provider: str) -> Credential:
    """The project's credential for `provider` (one per provider)."""
    credential = project.credentials.filter(provider=provider).first()
    if credential is None:
        raise NotFoundError("Credential not found")
    return credential


def credential_secret(credential: Credential) -> dict[str, Any]:
    """The stored secret in clear (`{"api_key"}` or `{"access_token", "refresh_token", ...}`).

    To call the provider, use `services.credential_access_token`: it refreshes a token that is
    about to expire."""
    secret: dict[str, Any] = CREDENTIAL_SECRET.open(credential)
    return secret


def credential_auth_headers(*, credential: Credential, token: str) -> dict[str, str]:
    """The headers that authenticate a call to the credential's provider with `token`."""
    if credential.provider == "anthropic":
        if credential.auth_type == AuthType.OAUTH:
            return {
                "Authorization": f"Bearer {token}",
                "anthropic-version": ANTHROPIC_VERSION,
                "anthropic-beta": ANTHROPIC_OAUTH_BETA,
            }
        return {"x-api-key": token, "anthropic-version": ANTHROPIC_VERSION}
    if credential.provider in BEARER_PROVIDERS or credential.base_url:
        # An endpoint at a base URL speaks OpenAI's API, which takes a bearer.
        return {"Authorization": f"Bearer {token}"}
    # Other providers are litellm's: it is given the token and knows their headers.
    raise ApplicationError(f"The server does not know how {credential.provider} takes a token")


def project_secrets(*, project: Project) -> list[str]:
    """Every secret the project holds, in clear, whichever app keeps it (its credentials' keys
    and tokens, its agents' MCP env and header values). A value that cannot be opened is
    skipped: it was never sent."""
    secrets: list[str] = []
    for field in encrypted_fields():
        for row in field.sealed().filter(**{field.project_lookup: project.id}):
            try:
                value = field.open(row)
            except DecryptionError:
                continue
            secrets += field.secret_values(value)
    return secrets
