from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apps.agents.models import AgentMCPServer
from apps.agents.selectors import mcp_secrets_binding, mcp_server_secrets
from apps.credentials import oauth
from apps.credentials.crypto import DecryptionError, current_key, seal_json, unseal_json
from apps.credentials.models import AuthType, Credential
from apps.credentials.providers import OAUTH_NAMES, PROVIDER_NAMES, provider_known
from apps.projects.models import Project
from discobot.errors import ApplicationError, ConflictError, NotFoundError
from discobot.redaction import mask_secrets

logger = logging.getLogger(__name__)

# The values of a stored secret that are secret (the rest: token type, scope, expiry, domain).
SECRET_FIELDS = ("api_key", "access_token", "refresh_token", "id_token")


def credential_binding(credential: Credential) -> bytes:
    """Associated data: the sealed secret opens only in this row of this project."""
    return f"credential:{credential.project_id}:{credential.id}".encode()


def credential_secret(credential: Credential) -> dict[str, Any]:
    """The stored secret in clear (`{"api_key"}` or `{"access_token", "refresh_token", ...}`)."""
    return unseal_json(
        credential.encrypted_data,
        key_id=credential.key_id,
        associated_data=credential_binding(credential),
    )


def credential_seal(credential: Credential, secret: dict[str, Any]) -> None:
    credential.encrypted_data, credential.key_id = seal_json(
        secret, associated_data=credential_binding(credential)
    )


@transaction.atomic
def credential_store(
    *,
    project: Project,
    provider: str,
    secret: dict[str, Any],
    auth_type: str = AuthType.API_KEY,
    name: str = "",
    expires_at: datetime | None = None,
) -> Credential:
    """Creates or replaces the project's credential for `provider` (one per provider)."""
    credential, _ = Credential.objects.select_for_update().get_or_create(
        project=project, provider=provider, defaults={"encrypted_data": b""}
    )
    credential.name = name or PROVIDER_NAMES.get(provider, provider)
    credential.auth_type = auth_type
    credential.expires_at = expires_at
    credential.needs_reauth = False
    credential.is_configured = True
    credential_seal(credential, secret)
    credential.save()
    return credential


def credential_api_key_store(
    *, project: Project, provider: str, api_key: str, name: str = ""
) -> Credential:
    if not provider_known(provider):
        raise ApplicationError(f"Unknown provider: {provider}")
    if not api_key.strip():
        raise ApplicationError("Api key is required")
    return credential_store(
        project=project, provider=provider, secret={"api_key": api_key.strip()}, name=name
    )


def credential_delete(*, project: Project, provider: str) -> None:
    deleted, _ = project.credentials.filter(provider=provider).delete()
    if not deleted:
        raise NotFoundError("Credential not found")


def oauth_credential_store(*, project: Project, provider: str, tokens: oauth.Tokens) -> Credential:
    return credential_store(
        project=project,
        provider=provider,
        secret=tokens.secret(),
        auth_type=AuthType.OAUTH,
        name=OAUTH_NAMES.get(provider, provider),
        expires_at=tokens.expires_at,
    )


def credential_refresh(*, credential: Credential) -> Credential:
    """Trades the refresh token for a new access token; on refusal the credential is kept but
    marked as needing a new authorization."""
    if credential.auth_type != AuthType.OAUTH:
        # The credential's state, not the request, is wrong: the same call may work later.
        raise ConflictError("Only OAuth credentials can be refreshed")
    secret = credential_secret(credential)
    if not secret.get("refresh_token"):
        raise ConflictError("This credential has no refresh token; authorize again")
    try:
        with upstream_errors_masked(project=credential.project):
            tokens = oauth.refresh(
                provider=credential.provider, refresh_token=secret["refresh_token"]
            )
    except oauth.UpstreamError as error:
        credential.needs_reauth = True
        credential.save(update_fields=["needs_reauth", "updated_at"])
        logger.warning(
            "refresh of %s credential %s failed: %s", credential.provider, credential.id, error
        )
        raise ConflictError(f"Refresh failed, authorize again: {error}") from None
    if not tokens.refresh_token:
        tokens.refresh_token = secret["refresh_token"]
    return oauth_credential_store(
        project=credential.project, provider=credential.provider, tokens=tokens
    )


def credential_access_token(*, credential: Credential) -> str:
    """The key or access token to call the provider with, refreshed first when near expiry."""
    if credential.auth_type == AuthType.OAUTH and credential.expires_at is not None:
        margin = timedelta(seconds=settings.CREDENTIAL_REFRESH_MARGIN_SECONDS)
        if credential.expires_at - timezone.now() < margin:
            credential = credential_refresh(credential=credential)
    secret = credential_secret(credential)
    return secret.get("api_key") or secret["access_token"]


def secrets_reseal_batch(*, batch_size: int) -> int:
    """Re-seals up to `batch_size` stored secrets that an older key sealed; returns how many.

    Each batch is one transaction, so an interrupted rotation leaves every value readable and
    running it again finishes the job.
    """
    key_id, _ = current_key()
    done = 0
    with transaction.atomic():
        credentials = (
            Credential.objects.select_for_update()
            .exclude(key_id=key_id)
            .exclude(encrypted_data=b"")
            .order_by("id")[:batch_size]
        )
        for credential in credentials:
            credential_seal(credential, credential_secret(credential))
            credential.save(update_fields=["encrypted_data", "key_id"])
            done += 1
    if done == batch_size:
        return done
    with transaction.atomic():
        servers = (
            AgentMCPServer.objects.select_for_update()
            .exclude(secrets_key_id=key_id)
            .exclude(secrets_key_id="")
            .order_by("id")[: batch_size - done]
        )
        for server in servers:
            binding = mcp_secrets_binding(server)
            secrets = unseal_json(
                server.encrypted_secrets, key_id=server.secrets_key_id, associated_data=binding
            )
            server.encrypted_secrets, server.secrets_key_id = seal_json(
                secrets, associated_data=binding
            )
            server.save(update_fields=["encrypted_secrets", "secrets_key_id"])
            done += 1
    return done


CODEX_PENDING_SECONDS = 600


def codex_pending_key(state: str) -> str:
    return f"codex-oauth:{state}"


def codex_authorization_start(*, project: Project, redirect_uri: str) -> dict[str, str]:
    """Starts the Codex PKCE flow; the callback page can finish it with the state alone."""
    answer = oauth.codex_authorize(redirect_uri=redirect_uri)
    cache.set(
        codex_pending_key(answer["state"]),
        {"project_id": project.id, "verifier": answer["verifier"], "redirect_uri": redirect_uri},
        CODEX_PENDING_SECONDS,
    )
    return answer


def codex_authorization_finish(*, state: str, code: str) -> Credential:
    """The browser came back from OpenAI with a code: exchange it (once) and store the token."""
    pending = cache.get(codex_pending_key(state))
    cache.delete(codex_pending_key(state))
    if pending is None:
        raise ApplicationError("This authorization expired or was already used; start again")
    project = Project.objects.filter(id=pending["project_id"]).first()
    if project is None:
        raise ApplicationError("The project of this authorization was deleted")
    credential, _ = codex_authorization_exchange(
        project=project,
        code=code,
        verifier=pending["verifier"],
        redirect_uri=pending["redirect_uri"],
    )
    return credential


def codex_authorization_exchange(
    *, project: Project, code: str, verifier: str, redirect_uri: str
) -> tuple[Credential, oauth.Tokens]:
    with upstream_errors_masked(project=project, sent=(code, verifier)):
        tokens = oauth.codex_exchange(code=code, verifier=verifier, redirect_uri=redirect_uri)
    return oauth_credential_store(project=project, provider="codex", tokens=tokens), tokens


def anthropic_authorization_finish(
    *, project: Project, code: str, verifier: str
) -> tuple[Credential, oauth.Tokens]:
    with upstream_errors_masked(project=project, sent=(code, verifier)):
        tokens = oauth.anthropic_exchange(code=code, verifier=verifier)
    return oauth_credential_store(project=project, provider="anthropic", tokens=tokens), tokens


def copilot_authorization_start(*, project: Project, domain: str) -> dict[str, Any]:
    with upstream_errors_masked(project=project):
        return oauth.copilot_device_code(domain=domain)


def copilot_authorization_poll(*, project: Project, device_code: str, domain: str) -> Credential:
    """The stored credential once the user approved; `oauth.DevicePollError` while waiting."""
    with upstream_errors_masked(project=project, sent=(device_code,)):
        tokens = oauth.copilot_poll(device_code=device_code, domain=domain)
    return oauth_credential_store(project=project, provider="github-copilot", tokens=tokens)


# The providers whose models `credential_test` can list.
TESTABLE_PROVIDERS = ("anthropic", "openai", "codex")


def header_value_valid(value: str) -> bool:
    """Whether `value` can be sent in an HTTP header: printable ASCII (and spaces inside)."""
    return value.isascii() and value.isprintable()


def credential_test(*, credential: Credential) -> tuple[bool, str]:
    """The cheapest authenticated call to the provider: listing its models."""
    token = credential_access_token(credential=credential)
    if credential.provider in TESTABLE_PROVIDERS and not header_value_valid(token):
        # Keys are stored as given (some providers take JSON documents); one that an HTTP
        # header cannot carry is no key of these providers.
        return False, "The key holds characters an HTTP header cannot carry"
    if credential.provider == "anthropic":
        headers = {"anthropic-version": "2023-06-01"}
        if credential.auth_type == AuthType.OAUTH:
            headers |= {"Authorization": f"Bearer {token}", "anthropic-beta": "oauth-2025-04-20"}
        else:
            headers["x-api-key"] = token
        url = f"{settings.ANTHROPIC_BASE_URL.rstrip('/')}/v1/models"
    elif credential.provider in ("openai", "codex"):
        headers = {"Authorization": f"Bearer {token}"}
        url = f"{settings.OPENAI_BASE_URL.rstrip('/')}/models"
    else:
        raise ApplicationError(f"Testing is not available for {credential.provider}")
    try:
        response = requests.get(url, headers=headers, timeout=settings.UPSTREAM_TIMEOUT_SECONDS)
    except requests.RequestException as error:
        return False, f"Could not reach the provider: {type(error).__name__}"
    if response.ok:
        return True, ""
    try:
        body = response.json()
    except ValueError:
        body = {}
    message = oauth.upstream_message(body) or f"HTTP {response.status_code}"
    return False, upstream_text(project=credential.project, text=message)


# --- What providers say, as members may see it ------------------------------------------------


def project_secrets(*, project: Project) -> list[str]:
    """Every secret the project holds, in clear: its credentials' keys and tokens, its agents'
    MCP env and header values. A value that cannot be opened is skipped: it was never sent."""
    secrets: list[str] = []
    for credential in project.credentials.exclude(encrypted_data=b""):
        try:
            secret = credential_secret(credential)
        except DecryptionError:
            continue
        secrets += [secret[name] for name in SECRET_FIELDS if isinstance(secret.get(name), str)]
    for server in AgentMCPServer.objects.filter(agent__project=project).exclude(
        encrypted_secrets=b""
    ):
        try:
            sections = mcp_server_secrets(server)
        except DecryptionError:
            continue
        secrets += [value for values in sections.values() for value in values.values()]
    return secrets


def upstream_text(*, project: Project, text: str, sent: Iterable[str] = ()) -> str:
    """A provider's words (an error, a refusal) made fit for every member of the project: each
    secret the project holds, and each one just `sent` to the provider, is masked."""
    return mask_secrets(text, [*project_secrets(project=project), *sent])


@contextmanager
def upstream_errors_masked(*, project: Project, sent: Iterable[str] = ()) -> Iterator[None]:
    """`oauth.UpstreamError`s raised inside carry `upstream_text`, never a secret."""
    try:
        yield
    except oauth.UpstreamError as error:
        masked = upstream_text(project=project, text=str(error), sent=sent)
        raise oauth.UpstreamError(masked) from None
