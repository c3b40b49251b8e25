from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import requests
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from apps.audit.services import audit_changes, audit_record
from apps.credentials import oauth
from apps.credentials.models import CREDENTIAL_SECRET, AuthType, Credential
from apps.credentials.providers import (
    OAUTH_NAMES,
    PROVIDER_NAMES,
    base_url_problem,
    provider_known,
)
from apps.credentials.selectors import credential_auth_headers, credential_secret, project_secrets
from apps.projects.models import Project
from discobot.errors import ApplicationError, ConflictError, NotFoundError
from discobot.redaction import mask_secrets

logger = logging.getLogger(__name__)


@transaction.atomic
def credential_store(
    *,
    project: Project,
    provider: str,
    secret: dict[str, Any],
    auth_type: str = AuthType.API_KEY,
    name: str = "",
    expires_at: datetime | None = None,
    base_url: str = "",
    prices: TokenPrices | None = None,
) -> Credential:
    """Creates or replaces the project's credential for `provider` (one per provider)."""
    credential, created = Credential.objects.select_for_update().get_or_create(
        project=project, provider=provider, defaults={"encrypted_data": b""}
    )
    # The secret is always replaced: recorded as changed, its values never.
    before = {} if created else {**credential_audit_fields(credential), "secret": "stored"}
    credential.name = name or PROVIDER_NAMES.get(provider, provider)
    credential.auth_type = auth_type
    credential.expires_at = expires_at
    credential.needs_reauth = False
    credential.is_configured = True
    credential.base_url = base_url
    credential.input_price_per_million = prices.input if prices else None
    credential.output_price_per_million = prices.output if prices else None
    CREDENTIAL_SECRET.seal(credential, secret)
    credential.save()
    after = {**credential_audit_fields(credential), "secret": "given"}
    credential_audit(
        credential,
        "credential.created" if created else "credential.updated",
        changes=audit_changes(before, after, secret=["secret"]),
    )
    return credential


def credential_audit_fields(credential: Credential) -> dict[str, Any]:
    """What the audit log shows of a credential: everything but its secret."""
    return {
        "name": credential.name,
        "auth_type": credential.auth_type,
        "base_url": credential.base_url,
        "expires_at": credential.expires_at,
        "input_price_per_million": credential.input_price_per_million,
        "output_price_per_million": credential.output_price_per_million,
    }


def credential_audit(credential: Credential, action: str, **fields: Any) -> None:
    audit_record(
        project_id=credential.project_id,
        action=action,
        target_type="credential",
        target_id=credential.provider,
        target_label=credential.name,
        **fields,
    )


@dataclass(frozen=True)
class TokenPrices:
    """US dollars per million tokens."""

    input: Decimal
    output: Decimal


def credential_api_key_store(
    *,
    project: Project,
    provider: str,
    api_key: str,
    name: str = "",
    base_url: str = "",
    prices: TokenPrices | None = None,
) -> Credential:
    """`base_url`, when given, is where the key is used instead of the provider's endpoint;
    `prices`, what that endpoint charges."""
    if not provider_known(provider):
        raise ApplicationError(f"Unknown provider: {provider}")
    if not api_key.strip():
        raise ApplicationError("Api key is required")
    if base_url and (problem := base_url_problem(base_url)):
        raise ApplicationError(problem)
    return credential_store(
        project=project,
        provider=provider,
        secret={"api_key": api_key.strip()},
        name=name,
        base_url=base_url,
        prices=prices,
    )


@transaction.atomic
def credential_delete(*, project: Project, provider: str) -> None:
    credential = project.credentials.filter(provider=provider).first()
    if credential is None:
        raise NotFoundError("Credential not found")
    credential.delete()
    credential_audit(credential, "credential.deleted")


def oauth_credential_store(*, project: Project, provider: str, tokens: oauth.Tokens) -> Credential:
    return credential_store(
        project=project,
        provider=provider,
        secret=tokens.secret(),
        auth_type=AuthType.OAUTH,
        name=OAUTH_NAMES.get(provider, provider),
        expires_at=tokens.expires_at,
    )


# --- Using a credential --------------------------------------------------------------------------


def refresh_due(credential: Credential) -> bool:
    """Whether an OAuth access token expires within CREDENTIAL_REFRESH_MARGIN_SECONDS."""
    if credential.auth_type != AuthType.OAUTH or credential.expires_at is None:
        return False
    margin = timedelta(seconds=settings.CREDENTIAL_REFRESH_MARGIN_SECONDS)
    return credential.expires_at - timezone.now() < margin


def credential_refresh(*, credential: Credential, only_when_due: bool = False) -> Credential:
    """Trades the refresh token for a new access token; on refusal the credential is kept but
    marked as needing a new authorization.

    Single-flight: the row stays locked from reading the refresh token to storing its
    successor, so concurrent callers refresh one after the other, never with a token a
    provider has already rotated away. With `only_when_due`, a caller that waited for the lock
    re-checks the expiry and uses the token its predecessor stored.
    """
    if credential.auth_type != AuthType.OAUTH:
        # The credential's state, not the request, is wrong: the same call may work later.
        raise ConflictError("Only OAuth credentials can be refreshed")
    with transaction.atomic():
        locked = Credential.objects.select_for_update().filter(id=credential.id).first()
        if locked is None:
            raise NotFoundError("Credential not found")
        if only_when_due and not refresh_due(locked):
            return locked
        refresh_token = credential_secret(locked).get("refresh_token")
        if not refresh_token:
            raise ConflictError("This credential has no refresh token; authorize again")
        try:
            tokens = oauth.refresh(provider=locked.provider, refresh_token=refresh_token)
        except oauth.UpstreamError as error:
            refusal = str(error)
            locked.needs_reauth = True
            locked.save(update_fields=["needs_reauth", "updated_at"])
        else:
            tokens.refresh_token = tokens.refresh_token or refresh_token
            return oauth_credential_store(
                project=credential.project, provider=locked.provider, tokens=tokens
            )
    reason = upstream_text(project=credential.project, text=refusal)
    logger.warning("refresh of %s credential %s failed: %s", locked.provider, locked.id, reason)
    raise ConflictError(f"Refresh failed, authorize again: {reason}")


def credential_access_token(*, credential: Credential) -> str:
    """The key or access token to call the provider with, refreshed first when near expiry."""
    if refresh_due(credential):
        credential = credential_refresh(credential=credential, only_when_due=True)
    secret = credential_secret(credential)
    token: str = secret.get("api_key") or secret["access_token"]
    return token


async def credential_access_token_async(*, credential: Credential) -> str:
    """`credential_access_token` for async callers (the chat stream). A refresh waits on the
    row lock and on the provider, so it runs in a thread of its own: neither the event loop
    nor the one thread that sync code shares by default is held up meanwhile."""

    def access_token() -> str:
        try:
            return credential_access_token(credential=credential)
        finally:
            # A pool thread outlives the call: give its connection back now.
            connection.close()

    return await sync_to_async(access_token, thread_sensitive=False)()


# --- The OAuth flows (contract §2 Credentials) ---------------------------------------------------
# Each flow has the same shape: `<provider>_authorization_start` answers what the client shows
# the user, `<provider>_authorization_finish` stores the credential and returns an
# `Authorization`. A provider's refusal is an `AuthorizationRefused` in the flow's wording.


@dataclass(frozen=True)
class Authorization:
    """A finished OAuth flow: the stored credential and how long its access token lasts."""

    credential: Credential
    expires_in: int | None


class AuthorizationRefused(ApplicationError):
    """The provider refused a step of a flow: `message` in the flow's wording, `reason` in the
    provider's words, both with the project's secrets masked."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@contextmanager
def upstream_refusals(
    *, project: Project, wording: str = "{reason}", sent: Iterable[str] = ()
) -> Iterator[None]:
    """An `oauth.UpstreamError` raised inside becomes an `AuthorizationRefused`."""
    try:
        yield
    except oauth.UpstreamError as error:
        reason = upstream_text(project=project, text=str(error), sent=sent)
        raise AuthorizationRefused(wording.format(reason=reason), reason=reason) from None


def authorization_store(*, project: Project, provider: str, tokens: oauth.Tokens) -> Authorization:
    credential = oauth_credential_store(project=project, provider=provider, tokens=tokens)
    return Authorization(credential=credential, expires_in=tokens.expires_in)


def anthropic_authorization_start() -> dict[str, str]:
    return oauth.anthropic_authorize()


def anthropic_authorization_finish(*, project: Project, code: str, verifier: str) -> Authorization:
    """`code` is what the user pasted: `code#state` (contract §2)."""
    with upstream_refusals(project=project, sent=(code, verifier)):
        tokens = oauth.anthropic_exchange(code=code, verifier=verifier)
    return authorization_store(project=project, provider="anthropic", tokens=tokens)


CODEX_PENDING_SECONDS = 600
CODEX_EXCHANGE_FAILED = "Token exchange failed: {reason}"


def codex_pending_key(state: str) -> str:
    return f"codex-oauth:{state}"


def codex_authorization_start(
    *, project: Project, redirect_uri: str | None = None
) -> dict[str, str]:
    """Starts the Codex PKCE flow; the callback page can finish it with the state alone."""
    redirect_uri = redirect_uri or settings.CODEX_REDIRECT_URI
    answer = oauth.codex_authorize(redirect_uri=redirect_uri)
    cache.set(
        codex_pending_key(answer["state"]),
        {"project_id": project.id, "verifier": answer["verifier"], "redirect_uri": redirect_uri},
        CODEX_PENDING_SECONDS,
    )
    return answer


def codex_authorization_finish(
    *, project: Project, code: str, verifier: str, redirect_uri: str | None = None
) -> Authorization:
    with upstream_refusals(project=project, wording=CODEX_EXCHANGE_FAILED, sent=(code, verifier)):
        tokens = oauth.codex_exchange(
            code=code,
            verifier=verifier,
            redirect_uri=redirect_uri or settings.CODEX_REDIRECT_URI,
        )
    return authorization_store(project=project, provider="codex", tokens=tokens)


def codex_callback_finish(*, state: str, code: str) -> Authorization:
    """The browser came back from OpenAI with a code: exchange it (once) and store the token."""
    pending = cache.get(codex_pending_key(state))
    cache.delete(codex_pending_key(state))
    if pending is None:
        raise ApplicationError("This authorization expired or was already used; start again")
    project = Project.objects.filter(id=pending["project_id"]).first()
    if project is None:
        raise ApplicationError("The project of this authorization was deleted")
    return codex_authorization_finish(
        project=project,
        code=code,
        verifier=pending["verifier"],
        redirect_uri=pending["redirect_uri"],
    )


def copilot_authorization_start(
    *, project: Project, deployment_type: str, enterprise_url: str = ""
) -> dict[str, Any]:
    domain = oauth.copilot_domain(deployment_type=deployment_type, enterprise_url=enterprise_url)
    with upstream_refusals(project=project, wording="Device code request failed: {reason}"):
        return oauth.copilot_device_code(domain=domain)


def copilot_authorization_finish(
    *, project: Project, device_code: str, domain: str
) -> Authorization:
    """The stored credential once the user approved; `oauth.DevicePollError` while waiting."""
    with upstream_refusals(project=project, sent=(device_code,)):
        tokens = oauth.copilot_poll(device_code=device_code, domain=domain)
    return authorization_store(project=project, provider="github-copilot", tokens=tokens)


# --- Testing a credential ------------------------------------------------------------------------

# The providers whose models `credential_test` can list.
TESTABLE_PROVIDERS = ("anthropic", "openai", "codex")


def header_value_valid(value: str) -> bool:
    """Whether `value` can be sent in an HTTP header: printable ASCII (and spaces inside)."""
    return value.isascii() and value.isprintable()


def credential_test(*, credential: Credential) -> tuple[bool, str]:
    """The cheapest authenticated call to the provider: listing its models."""
    token = credential_access_token(credential=credential)
    if credential.provider not in TESTABLE_PROVIDERS:
        raise ApplicationError(f"Testing is not available for {credential.provider}")
    if not header_value_valid(token):
        # Keys are stored as given (some providers take JSON documents); one that an HTTP
        # header cannot carry is no key of these providers.
        return False, "The key holds characters an HTTP header cannot carry"
    if credential.provider == "anthropic":
        url = f"{settings.ANTHROPIC_BASE_URL.rstrip('/')}/v1/models"
    else:
        url = f"{settings.OPENAI_BASE_URL.rstrip('/')}/models"
    headers = credential_auth_headers(credential=credential, token=token)
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


def upstream_text(*, project: Project, text: str, sent: Iterable[str] = ()) -> str:
    """A provider's words (an error, a refusal) made fit for every member of the project: each
    secret the project holds, and each one just `sent` to the provider, is masked."""
    return mask_secrets(text, [*project_secrets(project=project), *sent])
