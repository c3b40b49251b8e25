"""The LLM models a project's credentials can drive (the models of an agent or a session).

A credential with a base URL lists what its endpoint serves (`GET {base}/models` in OpenAI's
shape, `GET {base}/v1/models` in Anthropic's); any other lists litellm's own data for its
provider. A model's id is what the chat hands litellm: `<provider>/<model>`, where an endpoint
model's prefix is the credential's provider, so the id finds its credential again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any, TypedDict

import requests
from django.conf import settings
from django.core.cache import cache

from apps.core.crypto import DecryptionError
from apps.credentials.models import Credential
from apps.credentials.providers import CONVERSATION_MODES, LITELLM_NAMES, endpoint_api
from apps.credentials.selectors import credential_auth_headers, credential_list
from apps.credentials.services import credential_access_token, header_value_valid
from apps.projects.models import Project

logger = logging.getLogger(__name__)


class ModelInfo(TypedDict):
    id: str
    display_name: str
    provider: str
    created_at: str | None
    # Always "model", as in Anthropic's listing, the shape this one follows.
    type: str
    reasoning: bool


# A listing larger than this is no model list; the endpoint is treated as unreachable.
ENDPOINT_LIST_MAX_BYTES = 4 * 1024 * 1024


def project_models(*, project: Project, providers: Collection[str] | None) -> list[ModelInfo]:
    """The models of the project's usable credentials, of `providers` only unless None."""
    models: list[ModelInfo] = []
    for credential in credential_list(project=project):
        usable = credential.is_configured and not credential.needs_reauth
        if usable and (providers is None or credential.provider in providers):
            models += credential_models(credential)
    return models


def credential_models(credential: Credential) -> list[ModelInfo]:
    """Cached for MODEL_LIST_CACHE_SECONDS per credential version: storing the credential
    again (a new key or base URL) lists afresh."""
    key = f"credential-models:{credential.id}:{credential.updated_at.timestamp()}"
    models: list[ModelInfo] | None = cache.get(key)
    if models is None:
        models = endpoint_models(credential) if credential.base_url else litellm_models(credential)
        # An unreachable endpoint is cached too, so a page does not wait on it at every load.
        cache.set(key, models, settings.MODEL_LIST_CACHE_SECONDS)
    return models


def litellm_models(credential: Credential) -> list[ModelInfo]:
    # Imported on first use: litellm takes seconds to import.
    import litellm

    provider = LITELLM_NAMES.get(credential.provider, credential.provider)
    models: list[ModelInfo] = []
    for name in sorted(litellm.models_by_provider.get(provider, ())):
        data = litellm.model_cost.get(name, {})
        if data.get("mode") not in CONVERSATION_MODES:
            continue
        bare = name.removeprefix(f"{provider}/")
        models.append(
            model_info(
                model_id=f"{provider}/{bare}",
                display_name=bare,
                credential=credential,
                reasoning=bool(data.get("supports_reasoning")),
            )
        )
    return models


def endpoint_models(credential: Credential) -> list[ModelInfo]:
    """The endpoint's own list; empty when it cannot be had in MODEL_LIST_TIMEOUT_SECONDS."""
    try:
        token = credential_access_token(credential=credential)
    except DecryptionError:
        logger.warning("credential %s cannot be opened with the server's keys", credential.id)
        return []
    if not header_value_valid(token):
        return []
    headers = credential_auth_headers(credential=credential, token=token)
    base = credential.base_url.rstrip("/")
    anthropic = endpoint_api(credential.provider) == "anthropic"
    # Anthropic's base URLs name the host (its clients add `/v1`), OpenAI's include `/v1`.
    body = endpoint_get(f"{base}/v1/models" if anthropic else f"{base}/models", headers)
    entries = body.get("data") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        return []
    models: list[ModelInfo] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        name = entry["id"]
        display_name = entry.get("display_name") if anthropic else None
        models.append(
            model_info(
                model_id=f"{credential.provider}/{name}",
                display_name=display_name if isinstance(display_name, str) else name,
                credential=credential,
                created_at=entry_created_at(entry),
                reasoning=litellm_reasoning(name),
            )
        )
    return models


def endpoint_get(url: str, headers: dict[str, str]) -> Any:
    """The JSON `url` answers, or None: refused, unreachable, not JSON, too large or too slow
    (a deadline over the whole read, as a trickling endpoint resets each read's timeout)."""
    timeout = settings.MODEL_LIST_TIMEOUT_SECONDS
    deadline = time.monotonic() + timeout
    body = bytearray()
    try:
        with requests.get(
            url, headers=headers, timeout=timeout, stream=True, allow_redirects=False
        ) as response:
            if response.status_code != 200:
                logger.info("model list at %s answered HTTP %s", url, response.status_code)
                return None
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > ENDPOINT_LIST_MAX_BYTES or time.monotonic() > deadline:
                    logger.info("model list at %s too large or too slow", url)
                    return None
        return json.loads(body)
    except (requests.RequestException, ValueError) as error:
        logger.info("model list at %s unavailable: %s", url, type(error).__name__)
        return None


def entry_created_at(entry: dict[str, Any]) -> str | None:
    # Anthropic: an RFC 3339 string; OpenAI: Unix seconds.
    if isinstance(entry.get("created_at"), str):
        created_at: str = entry["created_at"]
        return created_at
    created = entry.get("created")
    if isinstance(created, int) and not isinstance(created, bool):
        try:
            return datetime.fromtimestamp(created, tz=UTC).isoformat().replace("+00:00", "Z")
        except (OverflowError, OSError, ValueError):
            return None
    return None


def litellm_reasoning(name: str) -> bool:
    """Whether litellm knows `name` (an endpoint's model id) as a reasoning model."""
    import litellm

    return bool(litellm.model_cost.get(name, {}).get("supports_reasoning"))


def model_info(
    *,
    model_id: str,
    display_name: str,
    credential: Credential,
    reasoning: bool,
    created_at: str | None = None,
) -> ModelInfo:
    return {
        "id": model_id,
        "display_name": display_name,
        "provider": credential.provider,
        "created_at": created_at,
        "type": "model",
        "reasoning": reasoning,
    }
