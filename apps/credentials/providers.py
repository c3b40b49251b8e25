"""Which provider names a credential may carry, and which endpoints it may call them at."""

from __future__ import annotations

import re
from functools import cache
from typing import Literal
from urllib.parse import urlsplit

from discobot.api.fields import HOST, PORT, whole

# The contract's providers (§2 Credentials) with their stored display names, plus `github`
# (a token for cloning private repositories).
PROVIDER_NAMES = {
    "anthropic": "Anthropic",
    "openai": "OpenAI",
    "github-copilot": "GitHub Copilot",
    "codex": "OpenAI Codex",
    "github": "GitHub",
}
OAUTH_NAMES = {
    "anthropic": "Anthropic OAuth",
    "github-copilot": "GitHub Copilot",
    "codex": "OpenAI Codex",
}


@cache
def litellm_providers() -> frozenset[str]:
    # Imported on first use: litellm takes seconds to import.
    from litellm.types.utils import LlmProviders

    return frozenset(provider.value for provider in LlmProviders)


def provider_known(provider: str) -> bool:
    return provider in PROVIDER_NAMES or provider in litellm_providers()


# An http(s) endpoint a credential's API calls go to: scheme, host, optional port and path. No
# user or password (a key goes in `apiKey`, sealed, never in a URL stored in clear), no query
# or fragment (paths such as `/models` are appended to it). Visible ASCII only, as HTTP_URL.
BASE_URL = f'^https?://{HOST}(?::{PORT})?(?:/[!-"$->@-~]*)?$'
BASE_URL_MAX_LENGTH = 2000
BASE_URL_CHECK = re.compile(whole(BASE_URL))


def base_url_problem(url: str) -> str | None:
    """Why `url` cannot be a credential's base URL (None: it can), in words a user can act on."""
    if len(url) > BASE_URL_MAX_LENGTH:
        return f"baseUrl: at most {BASE_URL_MAX_LENGTH} characters"
    if BASE_URL_CHECK.match(url):
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "baseUrl: enter an http or https URL"
    if "@" in parts.netloc:
        return "baseUrl: no user or password in the URL; send the key as apiKey"
    if "?" in url or "#" in url:
        return "baseUrl: no query or fragment"
    return "baseUrl: enter an http or https URL with a valid host"


# The API a credential's base URL speaks: Anthropic Messages for `anthropic`, OpenAI's for any
# other provider (the one every other compatible server implements).
EndpointApi = Literal["anthropic", "openai"]


def endpoint_api(provider: str) -> EndpointApi:
    return "anthropic" if provider == "anthropic" else "openai"
