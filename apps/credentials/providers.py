"""Which provider names a credential may carry."""

from __future__ import annotations

from functools import cache

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
