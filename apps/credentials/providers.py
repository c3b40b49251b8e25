"""Which provider names a credential may carry, and which endpoints it may call them at."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources import files
from typing import Any, Literal, NotRequired, TypedDict
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


# Credential providers whose litellm name differs; `github` (a git token) drives no model.
LITELLM_NAMES = {"github-copilot": "github_copilot", "codex": "chatgpt", "google": "gemini"}
# litellm's modes of the models a conversation can use (not embeddings, images, speech...).
CONVERSATION_MODES = ("chat", "responses")


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


class ProviderIcon(TypedDict):
    src: str
    mimeType: str


class AuthProvider(TypedDict):
    """An entry of the web app's provider catalogue (`GET .../agents/auth-providers`)."""

    id: str
    name: str
    description: str
    # The names a key of this provider goes by in an environment; the web app offers only
    # entries with some in its credentials dialog. Absent: no API key drives it (a sign-in does).
    env: NotRequired[list[str]]
    icons: NotRequired[list[ProviderIcon]]


# An OpenAI-compatible server of the user's own (Ollama, vLLM, a gateway), reached at the
# credential's base URL. (An Anthropic-compatible one is an `anthropic` credential with a base
# URL: `endpoint_api`.)
CUSTOM_OPENAI = "custom_openai"
# How each connects, where it is more than an API key.
CONNECT_WAYS = {
    "anthropic": "An API key, a Claude subscription (sign in), or an Anthropic-compatible "
    "endpoint at a base URL",
    "codex": "A ChatGPT subscription (sign in)",
    "github-copilot": "A GitHub Copilot subscription (sign in with GitHub)",
    CUSTOM_OPENAI: "Any server that speaks OpenAI's API (Ollama, vLLM, LM Studio, a gateway) "
    "at its base URL",
}
# Key variables that litellm's naming (`<PROVIDER>_API_KEY`) gets wrong: the names litellm's
# code reads for these (it has no table of them), and the token a Copilot sign-in stands for.
KEY_VARIABLES = {
    "gemini": ["GEMINI_API_KEY", "GOOGLE_API_KEY"],
    "perplexity": ["PERPLEXITYAI_API_KEY"],
    "together_ai": ["TOGETHERAI_API_KEY"],
    "bedrock": ["AWS_BEARER_TOKEN_BEDROCK"],
    "github-copilot": ["GITHUB_TOKEN"],
    CUSTOM_OPENAI: ["OPENAI_API_KEY"],
}
# Logos models.dev publishes, for the providers most users pick (its id where it differs).
MODELS_DEV_LOGOS = {
    "anthropic": "anthropic",
    "openai": "openai",
    "codex": "openai",
    "github-copilot": "github-copilot",
    "gemini": "google",
    "mistral": "mistral",
    "deepseek": "deepseek",
    "xai": "xai",
    "groq": "groq",
    "openrouter": "openrouter",
}


@cache
def auth_providers() -> list[AuthProvider]:
    """The providers a project can connect: every provider litellm has conversation models
    for (its own data: models, display names, the fields its proxy asks to connect one), under
    the names credentials use, the contract's first. Computed once per process (litellm's
    data ships with it); callers must not change it."""
    import litellm

    names = litellm_display_names()
    key_fields = litellm_key_fields()
    registry_keys = litellm_registry_key_variables()
    credential_names = {LITELLM_NAMES[own]: own for own in PROVIDER_NAMES if own in LITELLM_NAMES}
    catalogue: dict[str, AuthProvider] = {}
    for litellm_name, models in litellm.models_by_provider.items():
        count = sum(
            litellm.model_cost.get(model, {}).get("mode") in CONVERSATION_MODES for model in models
        )
        if not count:
            continue
        provider = credential_names.get(litellm_name, litellm_name)
        # litellm's model data still names some providers it no longer serves.
        if not provider_known(provider):
            continue
        entry: AuthProvider = {
            "id": provider,
            "name": PROVIDER_NAMES.get(provider) or names.get(litellm_name, litellm_name),
            "description": CONNECT_WAYS.get(provider) or f"{count} chat models",
        }
        # litellm's proxy asks no key of providers reached otherwise (cloud identities, a
        # ChatGPT sign-in).
        if litellm_name not in key_fields or "api_key" in key_fields[litellm_name]:
            entry["env"] = KEY_VARIABLES.get(provider) or [
                registry_keys.get(litellm_name) or f"{litellm_name.upper()}_API_KEY"
            ]
        catalogue[provider] = entry
    catalogue[CUSTOM_OPENAI] = {
        "id": CUSTOM_OPENAI,
        "name": "OpenAI-compatible endpoint",
        "description": CONNECT_WAYS[CUSTOM_OPENAI],
        "env": KEY_VARIABLES[CUSTOM_OPENAI],
    }
    for provider, logo in MODELS_DEV_LOGOS.items():
        if provider in catalogue:
            catalogue[provider]["icons"] = [
                {"src": f"https://models.dev/logos/{logo}.svg", "mimeType": "image/svg+xml"}
            ]
    first = [*PROVIDER_NAMES, CUSTOM_OPENAI]
    return sorted(
        catalogue.values(),
        key=lambda entry: (
            first.index(entry["id"]) if entry["id"] in first else len(first),
            entry["name"].lower(),
        ),
    )


def litellm_data(path: str) -> Any:
    """A data file litellm ships (None when this version has none at `path`)."""
    try:
        return json.loads(files("litellm").joinpath(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def litellm_display_names() -> dict[str, str]:
    # Named "Display Name (`id`)" for litellm's provider table.
    providers = (litellm_data("provider_endpoints_support_backup.json") or {}).get("providers")
    return {
        provider: str(info["display_name"]).removesuffix(f" (`{provider}`)")
        for provider, info in (providers or {}).items()
        if isinstance(info, dict) and info.get("display_name")
    }


def litellm_key_fields() -> dict[str, set[str]]:
    """What litellm's proxy asks of a user connecting each provider (`api_key`, AWS keys...)."""
    entries = litellm_data("proxy/public_endpoints/provider_create_fields.json") or []
    return {
        entry["litellm_provider"]: {field["key"] for field in entry.get("credential_fields", [])}
        for entry in entries
        if isinstance(entry, dict) and entry.get("litellm_provider")
    }


def litellm_registry_key_variables() -> dict[str, str]:
    """The key variables of the OpenAI-compatible providers litellm defines as data."""
    registry = litellm_data("llms/openai_like/providers.json") or {}
    return {
        provider: info["api_key_env"]
        for provider, info in registry.items()
        if isinstance(info, dict) and isinstance(info.get("api_key_env"), str)
    }
